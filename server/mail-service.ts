import { Hono } from "hono";
import { createTransport } from "nodemailer";
import * as z from "zod";
import { log } from "./log.ts";
import { tokenMatches } from "./secrets.ts";

const mailSchema = z
	.object({
		to: z.email().max(254),
		subject: z.string().min(1).max(200),
		text: z.string().min(1).max(20_000),
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
			try {
				await transport.sendMail({ from, ...parsed.data });
			} catch (err) {
				// The SMTP server's answer can carry the address; only the error class is logged.
				log.warn("mail", `sending failed: ${(err as Error).name}`);
				return c.json({ error: { code: "MAIL_FAILED" } }, 502);
			}
			log.info("mail", "mail handed to the SMTP server");
			return c.json({ ok: true }, 202);
		});
}
