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

/** A real SMTP server on loopback that keeps every mail it receives. */
export async function startSmtp() {
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
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const port = (server.server.address() as AddressInfo).port;
	return {
		port,
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
