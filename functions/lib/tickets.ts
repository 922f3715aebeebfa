import { jwtVerify, SignJWT } from "jose";
import * as z from "zod";
import { roleSchema } from "../../protocol/control.ts";
import { AUDIENCES, ISSUER, loadKeys } from "./jwt.ts";

/** A ticket is good for one WebSocket upgrade within this time. */
export const TICKET_SECONDS = 60;

const ticketClaims = z.object({
	sub: z.string().min(1).max(128),
	sid: z.string().min(1).max(128),
	role: roleSchema,
	jti: z.string().min(8).max(128),
	exp: z.int(),
});
export type TicketClaims = z.infer<typeof ticketClaims>;

/**
 * Signs a WebSocket ticket: who (`sub`, `role`) may join which session (`sid`). Its `jti` is
 * consumed by the session's actor on first use, so a ticket seen in a log is worthless.
 */
export async function signTicket(
	keyBinding: string,
	claims: { sub: string; sid: string; role: TicketClaims["role"] },
): Promise<string> {
	const keys = await loadKeys(keyBinding);
	return new SignJWT({ sid: claims.sid, role: claims.role })
		.setProtectedHeader({ alg: "EdDSA", kid: keys.kid, typ: "JWT" })
		.setIssuer(ISSUER)
		.setSubject(claims.sub)
		.setAudience(AUDIENCES.wsTicket)
		.setIssuedAt()
		.setExpirationTime(Math.floor(Date.now() / 1000) + TICKET_SECONDS)
		.setJti(crypto.randomUUID())
		.sign(keys.privateKey);
}

/** Verifies a ticket's signature, audience and expiry; null for anything wrong. */
export async function verifyTicket(
	keyBinding: string,
	ticket: string,
): Promise<TicketClaims | null> {
	const keys = await loadKeys(keyBinding);
	try {
		const { payload } = await jwtVerify(ticket, keys.publicKey, {
			issuer: ISSUER,
			audience: AUDIENCES.wsTicket,
			algorithms: ["EdDSA"],
			clockTolerance: 5,
		});
		const parsed = ticketClaims.safeParse(payload);
		return parsed.success ? parsed.data : null;
	} catch {
		// Expired, forged or malformed: the caller refuses all of them the same way.
		return null;
	}
}
