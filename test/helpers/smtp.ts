import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
	to: string[];
	raw: string;
	/** The body with quoted-printable soft breaks and escapes undone (enough for plain text). */
	text: string;
}

/** Undoes quoted-printable encoding of a plain-text body. */
function decodeQuotedPrintable(raw: string): string {
	return raw
		.replace(/=\r?\n/g, "")
		.replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** One part of a mail: its headers (lower-case names, unfolded) and its decoded bytes. */
export interface MimePart {
	headers: Record<string, string>;
	body: Buffer;
}

function parseHeaders(block: string): Record<string, string> {
	const headers: Record<string, string> = {};
	for (const line of block.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
		const colon = line.indexOf(":");
		if (colon > 0)
			headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
	}
	return headers;
}

function decodeBody(headers: Record<string, string>, raw: string): Buffer {
	const encoding = (headers["content-transfer-encoding"] ?? "7bit").toLowerCase();
	if (encoding === "base64") return Buffer.from(raw.replace(/\s+/g, ""), "base64");
	if (encoding === "quoted-printable") {
		const soft = raw.replace(/=\r?\n/g, "");
		const bytes: number[] = [];
		for (let i = 0; i < soft.length; i++) {
			const hex = soft[i] === "=" ? /^[0-9A-F]{2}$/.exec(soft.slice(i + 1, i + 3)) : null;
			if (hex) {
				bytes.push(Number.parseInt(hex[0], 16));
				i += 2;
			} else bytes.push(soft.charCodeAt(i));
		}
		return Buffer.from(bytes);
	}
	return Buffer.from(raw, "utf8");
}

/**
 * The leaf parts of a mail (one level of multipart, as nodemailer writes a text with
 * attachments), each decoded from base64 or quoted-printable. A single-part mail is one part.
 */
export function mimeParts(raw: string): MimePart[] {
	const split = raw.search(/\r?\n\r?\n/);
	const headers = parseHeaders(raw.slice(0, split));
	const rest = raw.slice(split).replace(/^\r?\n\r?\n/, "");
	const boundary = /boundary="?([^";]+)"?/.exec(headers["content-type"] ?? "")?.[1];
	if (!boundary) return [{ headers, body: decodeBody(headers, rest) }];
	return rest
		.split(`--${boundary}`)
		.slice(1)
		.filter((chunk) => !chunk.startsWith("--"))
		.map((chunk) => {
			const body = chunk.replace(/^\r?\n/, "");
			const at = body.search(/\r?\n\r?\n/);
			const partHeaders = parseHeaders(body.slice(0, at));
			const content = body
				.slice(at)
				.replace(/^\r?\n\r?\n/, "")
				.replace(/\r?\n$/, "");
			return { headers: partHeaders, body: decodeBody(partHeaders, content) };
		});
}

/**
 * A real SMTP server on loopback that keeps every mail it receives. `port` 0 picks a free one;
 * a fixed port lets a test stop the server and bring it back where the launcher expects it.
 */
export async function startSmtp(port = 0) {
	const mails: ReceivedMail[] = [];
	const waiters: (() => void)[] = [];
	const server = new SMTPServer({
		authOptional: true,
		disabledCommands: ["STARTTLS", "AUTH"],
		logger: false,
		onData(stream, session, callback) {
			let raw = "";
			stream.setEncoding("utf8");
			stream.on("data", (chunk: string) => {
				raw += chunk;
			});
			stream.on("end", () => {
				mails.push({
					to: session.envelope.rcptTo.map((r) => r.address),
					raw,
					text: decodeQuotedPrintable(raw),
				});
				for (const w of waiters.splice(0)) w();
				callback();
			});
		},
	});
	await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
	return {
		port: (server.server.address() as AddressInfo).port,
		mails,
		/** Waits until `count` mails have arrived, or fails after `ms`. */
		async waitFor(count: number, ms = 10_000): Promise<ReceivedMail[]> {
			const deadline = Date.now() + ms;
			while (mails.length < count) {
				if (Date.now() > deadline) throw new Error(`expected ${count} mails, got ${mails.length}`);
				await new Promise<void>((resolve) => {
					waiters.push(resolve);
					setTimeout(resolve, 200);
				});
			}
			return mails;
		},
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}
