import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import * as z from "zod";
import { AUDIENCES, signToken } from "../functions/lib/jwt.ts";
import { hashPassword } from "../functions/lib/password.ts";
import type { AuditEventType } from "../protocol/audit-events.ts";
import { appendChained, getChainHead } from "../schema/audit.ts";
import type { Db } from "../schema/db.ts";
import { getGroupNamesByUser, setUserGroups } from "../schema/groups.ts";
import { type HostWithGroup, listHosts, updateHost } from "../schema/hosts.ts";
import { revokeUserRefreshTokens } from "../schema/refresh-tokens.ts";
import {
	countOtherActiveAdmins,
	createUser,
	getUserByEmail,
	listUsers,
	USER_ROLES,
	type UserRole,
	updateUser,
} from "../schema/users.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { applyMigrations, nodeDb, openClient } from "./db.ts";
import { generatePassword } from "./first-admin.ts";
import { ensureAuthKeys } from "./keys.ts";
import { DataDirInUseError, type DataDirLock, isDataDirLocked, lockDataDir } from "./lock.ts";
import { readRunFile, removeRunFile } from "./run-file.ts";

/** Every command, for `--help` and for an unknown command. */
const OVERVIEW = `Usage: npm run fernwart -- <command> [options]

Administration (on the server machine; DATA_DIR names the server's data dir):
  user add|list|disable|reset-password   accounts (npm run fernwart -- user --help)
  host list|disable|enable               enrolled hosts

Modules (clients of a server over HTTPS):
  support                   supporter: issue a support ID and run the session
  join CODE                 customer: join a session with the 8-digit support ID
  host enroll URL TOKEN     host agent: enrol this machine (npm run fernwart -- host --help)
  host run                  host agent: stay online for unattended sessions
  connect HOST              supporter: open a session with an unattended host
  update                    update the packaged module from its server (signed manifest)

Audit protocol (offline, reads only the file):
  audit verify FILE         verify an exported protocol

Each command takes --help.`;

const USAGE = `Usage: npm run fernwart -- user|host <command> [options]

  user add --email <addr> [--name <display name>] [--role admin|supporter] [--groups a,b]
  user list
  user disable --email <addr>
  user reset-password --email <addr>
  host list
  host disable <name or id>
  host enable <name or id>

(\`host enroll|run\` are the host agent's commands: npm run fernwart -- host --help.)

New passwords come from FERNWART_NEW_PASSWORD or --password-stdin; otherwise one is generated
and printed once. While the server runs (DATA_DIR/run.json, or --url), the CLI uses its API;
otherwise it works on the database in DATA_DIR directly.`;

class CliError extends Error {
	override name = "CliError";
	readonly exitCode: number;
	constructor(message: string, exitCode = 1) {
		super(message);
		this.exitCode = exitCode;
	}
}

interface UserRow {
	id: string;
	email: string;
	displayName: string;
	role: UserRole;
	disabled: boolean;
	totpEnabled: boolean;
	groups: string[];
}

/** The fields of GET /api/v1/hosts that the CLI shows. */
interface HostRow {
	id: string;
	name: string;
	platform: string;
	group: { id: string; name: string };
	online: boolean;
	lastSeenAt: number | null;
	disabled: boolean;
}

/** The admin commands of the `host` area; `host enroll|run` belong to the agent (modules/cli). */
export const ADMIN_HOST_COMMANDS = ["list", "disable", "enable"] as const;

/** True when `host <command>` is an admin command of this file rather than an agent command. */
export function isAdminHostCommand(command: string | undefined): boolean {
	return (ADMIN_HOST_COMMANDS as readonly (string | undefined)[]).includes(command);
}

/** The host a NAME|ID argument means: the id, else the one host of that name. */
function pickHost(rows: HostRow[], ref: string): HostRow {
	const byId = rows.find((h) => h.id === ref);
	if (byId) return byId;
	const named = rows.filter((h) => h.name === ref);
	if (named.length === 1 && named[0]) return named[0];
	if (named.length > 1) {
		throw new CliError(
			`${named.length} hosts are named ${ref}; give the id: ${named.map((h) => h.id).join(", ")}`,
		);
	}
	throw new CliError(`no host ${ref}`);
}

function toHostRow(h: HostWithGroup): HostRow {
	return {
		id: h.id,
		name: h.name,
		platform: h.platform,
		group: { id: h.groupId, name: h.groupName },
		online: h.onlineSince !== null && !h.disabled,
		lastSeenAt: h.lastSeenAt?.getTime() ?? null,
		disabled: h.disabled,
	};
}

/** The operations, implemented twice: on the database, and through the running server's API. */
interface Backend {
	mode: string;
	add(input: {
		email: string;
		displayName: string;
		role: UserRole;
		password: string;
		groups: string[];
	}): Promise<UserRow>;
	list(): Promise<UserRow[]>;
	update(email: string, changes: { disabled?: boolean; password?: string }): Promise<UserRow>;
	listHosts(): Promise<HostRow[]>;
	/** Disables or enables the host named by NAME|ID; audited as `host.updated`, as the API does. */
	setHostDisabled(ref: string, disabled: boolean): Promise<HostRow>;
	close(): Promise<void>;
}

/**
 * The running server's loopback URL from DATA_DIR/run.json, or null when none runs. A run.json
 * whose owner no longer holds the data dir's lock is stale (a crash, or a PID now reused by
 * another process): it is named and ignored.
 */
async function runningServerUrl(dataDir: string): Promise<string | null> {
	const info = readRunFile(dataDir);
	if (!info) return null;
	if (!(await isDataDirLocked(dataDir))) {
		process.stderr.write(
			`[cli] ignoring a stale ${join(dataDir, "run.json")}: PID ${info.pid} does not hold the data dir\n`,
		);
		return null;
	}
	if (info.owner === "cli")
		throw new CliError(`another admin CLI (PID ${info.pid}) is working on ${dataDir}; try again`);
	if (!info.url)
		throw new CliError(`the server (PID ${info.pid}) is still starting; try again in a moment`);
	return info.url;
}

async function directBackend(config: Config): Promise<Backend> {
	// The CLI is then the only writer of the database and the audit chain: a server start (or
	// another CLI) waits until it is done.
	let lock: DataDirLock;
	try {
		lock = await lockDataDir(config.dataDir, () => {}, "cli");
	} catch (err) {
		if (err instanceof DataDirInUseError) throw new CliError(err.message);
		throw err;
	}
	const client = await openClient(config);
	await applyMigrations(client);
	const db: Db = nodeDb(client);
	// Only while the server is stopped (otherwise the CLI goes through the API), so this process
	// is the protocol's only writer and may chain on from the head it reads.
	const audit = async (
		type: AuditEventType,
		about: { subject?: string; hostId?: string },
		data?: Record<string, unknown>,
	) =>
		appendChained(db, await getChainHead(db), [
			{ type, actor: "cli", ...about, data: data ?? null },
		]);
	const hostRows = async () => (await listHosts(db, null)).map(toHostRow);
	const view = async (email: string): Promise<UserRow> => {
		const all = await listRows();
		const row = all.find((u) => u.email === email.toLowerCase());
		if (!row) throw new CliError(`no user ${email}`);
		return row;
	};
	const listRows = async (): Promise<UserRow[]> => {
		const groups = await getGroupNamesByUser(db);
		return (await listUsers(db)).map((u) => ({
			id: u.id,
			email: u.email,
			displayName: u.displayName,
			role: u.role,
			disabled: u.disabled,
			totpEnabled: u.totpEnabled,
			groups: groups.get(u.id) ?? [],
		}));
	};
	return {
		mode: `server not running: working on ${config.libsqlUrl.replace(/^file:/, "")}`,
		async add(input) {
			if (await getUserByEmail(db, input.email)) throw new CliError(`${input.email} exists`);
			const user = await createUser(db, {
				email: input.email,
				displayName: input.displayName,
				role: input.role,
				passwordHash: await hashPassword(input.password),
			});
			if (input.groups.length) await setUserGroups(db, user.id, input.groups);
			await audit("user.created", { subject: user.id }, { email: user.email, role: user.role });
			return view(user.email);
		},
		list: listRows,
		async update(email, changes) {
			const user = await getUserByEmail(db, email);
			if (!user) throw new CliError(`no user ${email}`);
			if (changes.disabled && user.role === "admin" && !user.disabled) {
				if ((await countOtherActiveAdmins(db, user.id)) === 0) {
					throw new CliError("this would leave no enabled admin");
				}
			}
			await updateUser(db, user.id, {
				...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}),
				...(changes.password ? { passwordHash: await hashPassword(changes.password) } : {}),
			});
			await revokeUserRefreshTokens(db, user.id);
			await audit(
				changes.disabled ? "user.disabled" : "user.updated",
				{ subject: user.id },
				{
					fields: Object.keys(changes).sort(),
				},
			);
			return view(email);
		},
		listHosts: hostRows,
		async setHostDisabled(ref, disabled) {
			const host = pickHost(await hostRows(), ref);
			// The presence socket needs no dropping here: with the server stopped there is none.
			const updated = await updateHost(db, host.id, { disabled });
			if (!updated) throw new CliError(`no host ${ref}`);
			// The same event PATCH /api/v1/hosts/{id} writes.
			await audit("host.updated", { hostId: host.id }, { fields: ["disabled"] });
			return toHostRow(updated);
		},
		async close() {
			client.close();
			removeRunFile(config.dataDir);
			await lock.release();
		},
	};
}

/**
 * Talks to the running server. It authenticates with a 60-second token of audience `admin-cli`
 * signed with the key in DATA_DIR/keys: whoever can read that file can mint any token anyway,
 * so this adds no new secret and no standing credential. The TLS certificate is pinned to the
 * one in the data dir (or TLS_CERT), so the token never goes to another server.
 */
async function apiBackend(config: Config, url: string): Promise<Backend> {
	const keys = ensureAuthKeys(config.dataDir);
	const token = await signToken(keys.jwtPrivateKey, { sub: "cli" }, AUDIENCES.adminCli, 60);
	const pin = new X509Certificate(readFileSync(config.tls.certPath)).fingerprint256;

	const call = <T>(
		method: string,
		path: string,
		body?: unknown,
	): Promise<{ status: number; body: T }> =>
		new Promise((resolve, reject) => {
			const payload = body === undefined ? undefined : JSON.stringify(body);
			const req = request(
				new URL(path, url),
				{
					method,
					headers: {
						authorization: `Bearer ${token}`,
						...(payload ? { "content-type": "application/json" } : {}),
					},
					// The fingerprint check below replaces CA and host-name checks: the server must
					// present exactly the certificate from the data dir.
					rejectUnauthorized: false,
				},
				(res) => {
					const fingerprint = (res.socket as import("node:tls").TLSSocket).getPeerCertificate()
						.fingerprint256;
					if (fingerprint !== pin) {
						res.destroy();
						reject(new CliError(`${url} presented a certificate other than the data dir's`));
						return;
					}
					let text = "";
					res.setEncoding("utf8");
					res.on("data", (d: string) => {
						text += d;
					});
					res.on("end", () => {
						resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : null) as T });
					});
				},
			);
			req.on("error", (err) => reject(new CliError(`cannot reach ${url}: ${err.message}`)));
			req.end(payload);
		});
	const must = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
		const res = await call<T & { error?: { code: string; message: string; details?: unknown } }>(
			method,
			path,
			body,
		);
		if (res.status >= 400) {
			// details names the failing fields of an INVALID_REQUEST (never their values).
			const details = res.body?.error?.details;
			throw new CliError(
				`${res.body?.error?.code ?? res.status}: ${res.body?.error?.message ?? ""}${
					details === undefined ? "" : ` ${JSON.stringify(details)}`
				}`,
			);
		}
		return res.body;
	};
	const list = async () => (await must<{ users: UserRow[] }>("GET", "/api/v1/users")).users;
	const listHosts = async () => (await must<{ hosts: HostRow[] }>("GET", "/api/v1/hosts")).hosts;
	return {
		mode: `server running: using its API at ${url}`,
		add: (input) => must<UserRow>("POST", "/api/v1/users", input),
		list,
		async update(email, changes) {
			const user = (await list()).find((u) => u.email === email.toLowerCase());
			if (!user) throw new CliError(`no user ${email}`);
			return must<UserRow>("PATCH", `/api/v1/users/${user.id}`, changes);
		},
		listHosts,
		async setHostDisabled(ref, disabled) {
			const host = pickHost(await listHosts(), ref);
			return must<HostRow>("PATCH", `/api/v1/hosts/${host.id}`, { disabled });
		},
		async close() {},
	};
}

async function newPassword(fromStdin: boolean): Promise<{ password: string; generated: boolean }> {
	let password = process.env.FERNWART_NEW_PASSWORD;
	if (fromStdin) {
		let text = "";
		for await (const chunk of process.stdin) text += chunk;
		password = text.replace(/\r?\n$/, "");
	}
	if (password) {
		if (password.length < 12)
			throw new CliError("the password must have at least 12 characters", 2);
		return { password, generated: false };
	}
	return { password: generatePassword(), generated: true };
}

function printUsers(rows: UserRow[]): void {
	printTable(
		["EMAIL", "ROLE", "STATE", "2FA", "GROUPS", "NAME"],
		rows.map((u) => [
			u.email,
			u.role,
			u.disabled ? "disabled" : "active",
			u.totpEnabled ? "totp" : "",
			u.groups.join(","),
			u.displayName,
		]),
	);
}

function printHosts(rows: HostRow[]): void {
	printTable(
		["NAME", "GROUP", "STATE", "PLATFORM", "LAST SEEN", "ID"],
		rows.map((h) => [
			h.name,
			h.group.name,
			h.disabled ? "disabled" : h.online ? "online" : "offline",
			h.platform,
			h.lastSeenAt === null ? "" : new Date(h.lastSeenAt).toISOString(),
			h.id,
		]),
	);
}

/** Prints aligned columns; an empty cell is the one dash the admin page's tables use too. */
function printTable(header: string[], rows: string[][]): void {
	const lines = rows.map((row) => row.map((c) => c || "—"));
	const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
	for (const l of [header, ...lines]) {
		process.stdout.write(
			`${l
				.map((c, i) => c.padEnd(widths[i] ?? 0))
				.join("  ")
				.trimEnd()}\n`,
		);
	}
}

async function run(argv: string[]): Promise<void> {
	const { values, positionals } = parseArgs({
		args: argv,
		allowPositionals: true,
		options: {
			email: { type: "string" },
			name: { type: "string" },
			role: { type: "string", default: "supporter" },
			groups: { type: "string" },
			"password-stdin": { type: "boolean", default: false },
			url: { type: "string" },
			help: { type: "boolean", short: "h", default: false },
		},
	});
	const [area, command, target] = positionals;
	if (values.help || (area !== "user" && area !== "host") || !command) {
		throw new CliError(USAGE, values.help ? 0 : 2);
	}
	if (area === "host" && !isAdminHostCommand(command)) throw new CliError(USAGE, 2);
	if (area === "host" && command !== "list" && !target) {
		throw new CliError(`host ${command} needs a host name or id`, 2);
	}

	// Arguments first: a typo is named before any data dir is looked at.
	if (values.email !== undefined && !z.email().safeParse(values.email).success)
		throw new CliError(`--email: '${values.email}' is not an e-mail address`, 2);
	// loadConfig creates DATA_DIR; the CLI must not, so it looks first.
	const dataDir = resolve(process.env.DATA_DIR || "./data");
	if (!existsSync(dataDir))
		throw new CliError(`no Fernwart data dir at ${dataDir}; set DATA_DIR to the server's data dir`);
	const config = loadConfig();
	const url = values.url ?? process.env.FERNWART_URL ?? (await runningServerUrl(config.dataDir));
	if (!url) requireExistingData(config);
	const backend = url ? await apiBackend(config, url) : await directBackend(config);
	process.stderr.write(`[cli] ${backend.mode}\n`);
	try {
		if (area === "host") {
			if (command === "list") {
				printHosts(await backend.listHosts());
			} else {
				const host = await backend.setHostDisabled(target as string, command === "disable");
				process.stdout.write(
					command === "disable"
						? `disabled host ${host.name} (${host.id}); it is disconnected and refused\n`
						: `enabled host ${host.name} (${host.id})\n`,
				);
			}
			return;
		}
		const email = values.email;
		const needEmail = () => {
			if (!email) throw new CliError(`user ${command} needs --email`, 2);
			return email;
		};
		switch (command) {
			case "add": {
				const role = values.role as UserRole;
				if (!USER_ROLES.includes(role)) throw new CliError("--role must be admin or supporter", 2);
				const address = needEmail();
				const { password, generated } = await newPassword(values["password-stdin"]);
				const user = await backend.add({
					email: address,
					displayName: values.name ?? address.split("@")[0] ?? address,
					role,
					password,
					groups: (values.groups ?? "")
						.split(",")
						.map((g) => g.trim())
						.filter(Boolean),
				});
				process.stdout.write(`added ${user.email} (${user.role}, id ${user.id})\n`);
				if (generated) process.stdout.write(`password (shown once): ${password}\n`);
				break;
			}
			case "list":
				printUsers(await backend.list());
				break;
			case "disable": {
				const user = await backend.update(needEmail(), { disabled: true });
				process.stdout.write(`disabled ${user.email}; their sessions are ended\n`);
				break;
			}
			case "reset-password": {
				const address = needEmail();
				const { password, generated } = await newPassword(values["password-stdin"]);
				const user = await backend.update(address, { password });
				process.stdout.write(`new password set for ${user.email}; their sessions are ended\n`);
				if (generated) process.stdout.write(`password (shown once): ${password}\n`);
				break;
			}
			default:
				throw new CliError(USAGE, 2);
		}
	} finally {
		await backend.close();
	}
}

/** The database file a direct-mode command would open, or null for a libSQL server. */
function databaseFile(config: Config): string | null {
	return config.libsqlUrl.startsWith("file:") ? config.libsqlUrl.slice("file:".length) : null;
}

/**
 * Direct mode works on an existing server's data only: a mistyped or missing DATA_DIR must not
 * leave a new, empty database (and a new first-admin-less server) in the working folder.
 */
function requireExistingData(config: Config): void {
	const file = databaseFile(config);
	if (file !== null && !existsSync(file)) {
		throw new CliError(
			`no Fernwart database at ${file} and no server running for ${config.dataDir}; set DATA_DIR to the server's data dir`,
		);
	}
}

const KNOWN_COMMANDS = new Set(["user", "host", "support", "join", "connect", "update", "audit"]);

if (import.meta.main) {
	const command = process.argv[2];
	if (command === undefined || command === "--help" || command === "-h" || command === "help") {
		(command === undefined ? process.stderr : process.stdout).write(`${OVERVIEW}\n`);
		process.exit(command === undefined ? 2 : 0);
	}
	if (!KNOWN_COMMANDS.has(command)) {
		process.stderr.write(`fernwart: unknown command '${command}'\n\n${OVERVIEW}\n`);
		process.exit(2);
	}
	// The module commands are clients of a server over HTTPS: no data dir, no config, no database.
	// `host list|disable|enable` are admin commands on the data dir; `host enroll|run` the agent's.
	const agentHost = command === "host" && !isAdminHostCommand(process.argv[3]);
	if (
		command === "support" ||
		command === "join" ||
		agentHost ||
		command === "connect" ||
		command === "update"
	) {
		const { runModuleCommand } = await import("../modules/cli/index.ts");
		process.exit(await runModuleCommand(process.argv.slice(2)));
	}
	// Offline: reads only the export file, never the data dir.
	if (command === "audit")
		process.exit(await (await import("./audit-verify.ts")).runAuditCommand(process.argv.slice(2)));
	try {
		await run(process.argv.slice(2));
	} catch (err) {
		if (err instanceof CliError) {
			(err.exitCode === 0 ? process.stdout : process.stderr).write(`${err.message}\n`);
			process.exit(err.exitCode);
		}
		if (err instanceof ConfigError) {
			process.stderr.write(`fernwart: configuration error: ${err.message}\n`);
			process.exit(2);
		}
		process.stderr.write(`fernwart: ${(err as Error).message}\n`);
		process.exit(1);
	}
}
