/**
 * Entry of the module commands (`support`, `join`) behind `npm run fernwart`. They talk to the
 * server only over HTTPS and the session WebSocket, never to its database, so they run on any
 * machine that can reach the server.
 */
import { CliError } from "./common.ts";
import { runConnect } from "./connect.ts";
import { runHost } from "./host.ts";
import { runJoin } from "./join.ts";
import { runSupport } from "./support.ts";
import { runUpdateCommand } from "./update.ts";

/** The commands this module adds to the `fernwart` CLI. */
export const MODULE_COMMANDS = ["support", "join", "host", "connect", "update"] as const;

/** True if `command` is one of {@link MODULE_COMMANDS}. */
export function isModuleCommand(command: string | undefined): boolean {
	return (MODULE_COMMANDS as readonly (string | undefined)[]).includes(command);
}

/**
 * Runs `support …` or `join …` and resolves with the exit code. Expected failures are printed
 * as one message without a stack.
 */
export async function runModuleCommand(argv: string[]): Promise<number> {
	const [command, ...rest] = argv;
	try {
		if (command === "support") return await runSupport(rest);
		if (command === "join") return await runJoin(rest);
		if (command === "host") return await runHost(rest);
		if (command === "connect") return await runConnect(rest);
		if (command === "update") return await runUpdateCommand(rest);
		throw new CliError(`unknown command ${command}`, 2);
	} catch (err) {
		const cli = err instanceof CliError ? err : new CliError((err as Error).message);
		process.stderr.write(`fernwart ${command}: ${cli.message}\n`);
		return cli.exitCode;
	}
}
