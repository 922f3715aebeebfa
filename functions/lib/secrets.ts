/**
 * The secrets the worker cannot work without, by binding, with the environment variable an
 * admin sets for plain `workerd serve` (dist/workerd.capnp reads them with `fromEnvironment`;
 * deploy/ hands them over from DATA_DIR/db-token.env and DATA_DIR/keys/auth.env).
 */
export const REQUIRED_SECRETS = {
	DB_TOKEN: "FERNWART_DB_TOKEN",
	JWT_PRIVATE_KEY: "FERNWART_JWT_KEY",
	SEAL_KEY: "FERNWART_SEAL_KEY",
} as const;

/**
 * The environment variables of the required secrets that are unset or empty, e.g.
 * `["FERNWART_JWT_KEY"]`; empty when the worker has everything it needs.
 */
export function missingSecrets(env: Partial<Record<keyof typeof REQUIRED_SECRETS, unknown>>) {
	return Object.entries(REQUIRED_SECRETS)
		.filter(([binding]) => {
			const value = env[binding as keyof typeof REQUIRED_SECRETS];
			return typeof value !== "string" || value.length === 0;
		})
		.map(([, variable]) => variable);
}
