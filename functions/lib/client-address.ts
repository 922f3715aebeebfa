/**
 * The client's address as far as this worker can know it (docs/security.md, "Client address").
 * The server is always `workerd serve` (the launcher and deploy/ alike), which sets
 * `request.cf.clientIp` to `ip:port` of the TCP peer itself; our socket has no `cfBlobHeader`,
 * so no client can supply it. No request header is believed, except the one named by
 * `CLIENT_IP_HEADER` when the TCP peer is one of `TRUSTED_PROXIES`.
 */
export interface AddressConfig {
	/** Comma-separated exact addresses of reverse proxies allowed to name the client. */
	TRUSTED_PROXIES?: string;
	/** The header such a proxy sets, e.g. `X-Real-IP` or `X-Forwarded-For`. */
	CLIENT_IP_HEADER?: string;
}

/** Strips the port from `ip:port` or `[v6]:port`; plain addresses come back unchanged. */
export function stripPort(address: string): string {
	const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
	if (v6?.[1]) return v6[1];
	const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(address);
	if (v4?.[1]) return v4[1];
	return address;
}

/** Lower-cases and trims; keeps only characters that can appear in an IP address. */
function clean(address: string | null | undefined): string | null {
	const a = address?.trim().toLowerCase();
	if (!a || a.length > 64 || !/^[0-9a-f:.[\]]+$/.test(a)) return null;
	return stripPort(a);
}

/** The direct TCP peer as workerd reports it; null when the runtime gives none. */
export function peerAddress(cf: unknown): string | null {
	const fromCf =
		cf && typeof cf === "object" && "clientIp" in cf && typeof cf.clientIp === "string"
			? cf.clientIp
			: null;
	return clean(fromCf);
}

/** The address to rate-limit and audit by. */
export function clientAddress(headers: Headers, cf: unknown, config: AddressConfig): string | null {
	const peer = peerAddress(cf);
	const trusted = (config.TRUSTED_PROXIES ?? "")
		.split(",")
		.map((s) => clean(s))
		.filter((s): s is string => s !== null);
	const header = config.CLIENT_IP_HEADER?.trim();
	if (peer && header && trusted.includes(peer)) {
		// The proxy appends the address it saw last; earlier entries came from the client.
		const forwarded = headers.get(header)?.split(",").at(-1);
		return clean(forwarded) ?? peer;
	}
	return peer;
}

/**
 * The network an address belongs to for rate limits: its /24 for IPv4 (also when written as an
 * IPv4-mapped IPv6 address) and its /48 for IPv6, the blocks one customer, office or hosting
 * account typically holds. Anything else comes back unchanged.
 */
export function addressPrefix(address: string): string {
	const mapped = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(address);
	if (mapped) return `${mapped[1]}.${mapped[2]}.${mapped[3]}.0/24`;
	if (!address.includes(":")) return address;
	const [head = "", tail] = address.split("::");
	const left = head ? head.split(":") : [];
	const right = tail ? tail.split(":") : [];
	const groups =
		tail === undefined
			? left
			: [
					...left,
					...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"),
					...right,
				];
	const first = groups.slice(0, 3).map((g) => (Number.parseInt(g || "0", 16) || 0).toString(16));
	while (first.length < 3) first.push("0");
	return `${first.join(":")}::/48`;
}
