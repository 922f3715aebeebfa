/** One-line logs with their origin first; never payloads, tokens or passwords. */
type Level = "error" | "warn" | "info" | "debug";
const ORDER: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };
let threshold: Level = "info";

function write(level: Level, origin: string, message: string): void {
	if (ORDER[level] > ORDER[threshold]) return;
	const line = `${new Date().toISOString()} ${level.toUpperCase()} [${origin}] ${message}\n`;
	(level === "error" || level === "warn" ? process.stderr : process.stdout).write(line);
}

export const log = {
	setLevel(level: Level) {
		threshold = level;
	},
	error: (origin: string, message: string) => write("error", origin, message),
	warn: (origin: string, message: string) => write("warn", origin, message),
	info: (origin: string, message: string) => write("info", origin, message),
	debug: (origin: string, message: string) => write("debug", origin, message),
};
