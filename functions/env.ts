import type { AuditLogNamespace } from "../durable/audit-log-api.ts";
import type { HostActorNamespace } from "../durable/host-actor-api.ts";
import type { RateLimiterNamespace } from "../durable/rate-limiter-api.ts";
import type { SessionActorNamespace } from "../durable/session-actor-api.ts";
import type { Db, DbBinding } from "../schema/db.ts";
import type { User, UserRole } from "../schema/users.ts";
import type { Audience } from "./lib/jwt.ts";

/** Bindings the worker is started with (wrangler.toml, the launcher and deploy/ agree on these). */
export interface Env {
	/** The Node DB service: runs SQL on libSQL. */
	DB: DbBinding;
	/** Shared secret the DB service (and the mail service) demand; made by the launcher. */
	DB_TOKEN: string;
	FERNWART_VERSION: string;
	PUBLIC_URL?: string;
	/** Failed-login and reset-request counters (durable/rate-limiter.ts). */
	RATE_LIMITER: RateLimiterNamespace;
	/** The one writer of the hash-chained audit protocol (durable/audit-log.ts). */
	AUDIT_LOG: AuditLogNamespace;
	/** One relay per support session (durable/session-actor.ts). */
	SESSION_ACTOR: SessionActorNamespace;
	/** One per enrolled host: presence and session notices (durable/host-actor.ts). */
	HOST_ACTOR: HostActorNamespace;
	/** The Ed25519 private JWK (base64url of its JSON) that signs access tokens; data dir. */
	JWT_PRIVATE_KEY: string;
	/** 32 bytes (base64url) that seal TOTP secrets at rest; data dir, never the database. */
	SEAL_KEY: string;
	/** The Node mail service (nodemailer to the admin's SMTP server); absent when not configured. */
	MAIL?: DbBinding;
	/** "true" when SMTP is configured; plain workerd always has the MAIL binding wired. */
	MAIL_ENABLED?: string;
	/** The Node storage service (profile pictures in the admin's S3 store). */
	STORAGE?: DbBinding;
	/** "true" when S3_URL is configured. */
	STORAGE_ENABLED?: string;
	/** The Node downloads service: the module files and their signed manifest (MODULES_DIR). */
	DOWNLOADS?: DbBinding;
	/** Reverse proxies whose client-address header is believed (lib/client-address.ts). */
	TRUSTED_PROXIES?: string;
	CLIENT_IP_HEADER?: string;
	/** SHA-256 fingerprint (`AB:CD:…`) of the certificate in use, and of the announced next one. */
	TLS_FINGERPRINT?: string;
	TLS_NEXT_FINGERPRINT?: string;
}

/** Who is calling: a logged-in user, or the admin CLI on the server machine. */
export type Principal =
	| { kind: "user"; id: string; role: UserRole; aud: Audience; user: User }
	| { kind: "cli"; id: "cli"; role: "admin"; aud: Audience };

/** Hono's environment: the bindings plus what middleware puts on the request. */
export interface AppEnv {
	Bindings: Env;
	Variables: {
		db: Db;
		/** The client address as lib/client-address.ts determines it; null when unknown. */
		ip: string | null;
		/** Set by the require-* middleware; routes without them never read it. */
		principal: Principal;
	};
}
