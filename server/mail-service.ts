import { Hono } from "hono";
import { createTransport } from "nodemailer";
import * as z from "zod";
import { log } from "./log.ts";
import { tokenMatches } from "./secrets.ts";

/**
 * The largest attachment the worker may hand over (a session's audit excerpt), in characters;
 * durable/protocol-mail.ts MAX_EXCERPT_CHARS keeps to it.
 */
export const MAX_ATTACHMENT_CHARS = 8 * 1024 * 1024;

/**
 * An attachment as the worker sends it: UTF-8 text (an NDJSON excerpt), a plain file name that
 * cannot reach outside the mail's headers, and one of the types the server produces.
 */
const attachmentSchema = z.strictObject({
	filename: z.string().regex(/^[A-Za-z0-9._-]{1,120}$/),
	contentType: z.enum(["application/x-ndjson"]),
	content: z.string().min(1).max(MAX_ATTACHMENT_CHARS),
});

/** `POST /mail/send`: one plain-text mail to one recipient, optionally with attachments. */
export const mailSchema = z
	.object({
		to: z.email().max(254),
		subject: z.string().min(1).max(200),
		text: z.string().min(1).max(100_000),
		attachments: z.array(attachmentSchema).max(4).optional(),
	})
	.strict();

/**
 * Splits SMTP_URL into nodemailer's URL and the sender. `?from=` names the sender address
 * (default `fernwart@<SMTP host>`); every other part is nodemailer's own URL syntax.
 */
export function parseSmtpUrl(smtpUrl: string): { url: string; from: string } {
	const url = new URL(smtpUrl);
	const from = url.searchParams.get("from") ?? `Fernwart <fernwart@${url.hostname}>`;
	url.searchParams.delete("from");
	return { url: url.toString(), from };
}

/**
 * The `MAIL` service: the worker asks it to send a mail, and this Node process speaks SMTP to
 * the admin's own server. The worker never opens a socket, and no third-party service is ever
 * involved. It demands the same shared token as the DB service.
 */
export function createMailService(smtpUrl: string, token: string): Hono {
	const { url, from } = parseSmtpUrl(smtpUrl);
	const transport = createTransport(url);
	return new Hono()
		.use(async (c, next) => {
			if (!tokenMatches(c.req.header("authorization"), token)) {
				return c.json({ error: { code: "UNAUTHORIZED" } }, 401);
			}
			await next();
		})
		.post("/mail/send", async (c) => {
			const parsed = mailSchema.safeParse(await c.req.json().catch(() => null));
			if (!parsed.success) return c.json({ error: { code: "INVALID_MAIL" } }, 400);
			const { attachments, ...mail } = parsed.data;
			try {
				await transport.sendMail({
					from,
					...mail,
					...(attachments
						? {
								attachments: attachments.map((a) => ({
									filename: a.filename,
									contentType: a.contentType,
									// base64 on the wire: the excerpt's bytes arrive exactly as written, so
									// its hashes and signatures still verify (no line wrapping or re-encoding).
									content: Buffer.from(a.content, "utf8"),
									contentTransferEncoding: "base64" as const,
								})),
							}
						: {}),
				});
			} catch (err) {
				// The SMTP server's answer can carry the address; only the error class is logged.
				log.warn("mail", `sending failed: ${(err as Error).name}`);
				return c.json({ error: { code: "MAIL_FAILED" } }, 502);
			}
			log.info("mail", "mail handed to the SMTP server");
			return c.json({ ok: true }, 202);
		});
}
