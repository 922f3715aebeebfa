/**
 * Entry of the packaged module (`npm run build:modules`: one executable per platform, Node's
 * single executable applications). It carries the module commands only; the administration
 * commands stay with the server (`npm run fernwart`). Bundled as CommonJS, so no top-level await.
 */
import { moduleKeyFingerprint } from "../../protocol/module-manifest.ts";
import { buildInfo } from "./build-info.ts";
import { runModuleCommand } from "./index.ts";

const OVERVIEW = `Usage: fernwart <command> [options]

  join CODE                 customer: join a session with the 8-digit support ID
  support                   supporter: issue a support ID and run the session
  connect HOST              supporter: open a session with an unattended host
  host enroll URL TOKEN     host agent: enrol this machine
  host run                  host agent: stay online for unattended sessions
  update                    update this program from its server (signed manifest)
  --version                 print the version and the built-in module-signing key

Each command takes --help.`;

async function main(argv: string[]): Promise<number> {
	const command = argv[0];
	if (command === undefined || command === "--help" || command === "-h" || command === "help") {
		(command === undefined ? process.stderr : process.stdout).write(`${OVERVIEW}\n`);
		return command === undefined ? 2 : 0;
	}
	if (command === "--version") {
		const info = buildInfo();
		const key = info.moduleKey ? await moduleKeyFingerprint(info.moduleKey) : null;
		process.stdout.write(
			`fernwart ${info.version}${info.sea ? " (single executable)" : ""}\n` +
				`module-signing key: ${key ?? "none built in"}\n`,
		);
		return 0;
	}
	return runModuleCommand(argv);
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
