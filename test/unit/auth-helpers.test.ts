import { describe, expect, it } from "vitest";
import { addressPrefix, clientAddress, stripPort } from "../../functions/lib/client-address.ts";
import { toBase64Url } from "../../functions/lib/encoding.ts";
import {
	createOpaqueToken,
	opaqueSecretMatches,
	parseOpaqueToken,
} from "../../functions/lib/opaque-token.ts";
import { burnPasswordCheck, hashPassword, verifyPassword } from "../../functions/lib/password.ts";
import { seal, unseal } from "../../functions/lib/seal.ts";
import { currentTotp, newTotpSecret, verifyTotp } from "../../functions/lib/totp.ts";

describe("address prefixes for join limits", () => {
	it("are the /24 of IPv4 (also IPv4-mapped) and the /48 of IPv6", () => {
		expect(addressPrefix("203.0.113.7")).toBe("203.0.113.0/24");
		expect(addressPrefix("::ffff:203.0.113.200")).toBe("203.0.113.0/24");
		expect(addressPrefix("2001:db8:1234:5678::1")).toBe("2001:db8:1234::/48");
		expect(addressPrefix("2001:0db8:0001:ffff:0:0:0:1")).toBe("2001:db8:1::/48");
		expect(addressPrefix("2001:db8::1")).toBe("2001:db8:0::/48");
		expect(addressPrefix("::1")).toBe("0:0:0::/48");
		expect(addressPrefix("fe80::")).toBe("fe80:0:0::/48");
	});
});

describe("client address", () => {
	const h = (init: Record<string, string>) => new Headers(init);

	it("prefers workerd's socket address and strips the port", () => {
		expect(
			clientAddress(h({ "cf-connecting-ip": "6.6.6.6" }), { clientIp: "10.0.0.5:5123" }, {}),
		).toBe("10.0.0.5");
		expect(stripPort("[::1]:443")).toBe("::1");
		expect(stripPort("192.0.2.1")).toBe("192.0.2.1");
	});

	it("never believes X-Forwarded-For unless the peer is a trusted proxy", () => {
		const headers = h({ "x-forwarded-for": "1.2.3.4, 5.6.7.8" });
		const cf = { clientIp: "10.0.0.1:1" };
		expect(clientAddress(headers, cf, {})).toBe("10.0.0.1");
		expect(clientAddress(headers, cf, { CLIENT_IP_HEADER: "X-Forwarded-For" })).toBe("10.0.0.1");
		const trusted = { TRUSTED_PROXIES: "10.0.0.1", CLIENT_IP_HEADER: "X-Forwarded-For" };
		// The proxy appends what it saw; earlier entries are whatever the client claimed.
		expect(clientAddress(headers, cf, trusted)).toBe("5.6.7.8");
		expect(clientAddress(headers, { clientIp: "10.0.0.2:1" }, trusted)).toBe("10.0.0.2");
	});

	it("believes no client header without a TCP peer, and rejects junk", () => {
		expect(clientAddress(h({ "cf-connecting-ip": "127.0.0.1" }), undefined, {})).toBeNull();
		expect(clientAddress(h({}), { clientIp: "<script>:1" }, {})).toBeNull();
	});
});

describe("opaque tokens", () => {
	it("are <id>.<secret> with 32 random bytes, stored as a SHA-256 that only the secret matches", async () => {
		const t = await createOpaqueToken();
		const parsed = parseOpaqueToken(t.token);
		expect(parsed?.id).toBe(t.id);
		expect(t.secretHash).toMatch(/^[0-9a-f]{64}$/);
		expect(await opaqueSecretMatches(parsed?.secret ?? "", t.secretHash)).toBe(true);
		// Change the first character to a different one (a fixed replacement would sometimes be equal).
		const secret = parsed?.secret ?? "";
		const changed = `${secret.startsWith("A") ? "B" : "A"}${secret.slice(1)}`;
		expect(await opaqueSecretMatches(changed, t.secretHash)).toBe(false);
		expect(parseOpaqueToken("abc.def")).toBeNull();
	});
});

describe("sealed secrets", () => {
	const key = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));

	it("open only with the same key and row id", async () => {
		const secret = newTotpSecret();
		const sealed = await seal(key, secret, "row-1");
		expect(await unseal(key, sealed, "row-1")).toEqual(secret);
		expect(await unseal(key, sealed, "row-2")).toBeNull();
		const other = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
		expect(await unseal(other, sealed, "row-1")).toBeNull();
	});
});

describe("TOTP", () => {
	it("accepts the current code with one step of drift and names its step", () => {
		const secret = newTotpSecret();
		const now = 1_800_000_000_000;
		const step = Math.floor(now / 30_000);
		expect(verifyTotp(secret, currentTotp(secret, now), now)).toBe(step);
		expect(verifyTotp(secret, currentTotp(secret, now - 30_000), now)).toBe(step - 1);
		expect(verifyTotp(secret, currentTotp(secret, now - 90_000), now)).toBeNull();
		expect(verifyTotp(secret, "12345", now)).toBeNull();
	});
});

describe("password hashing", () => {
	it("verifies the right password only, and costs the same for a malformed hash", async () => {
		const stored = await hashPassword("correct horse battery staple", 1);
		expect(stored).toMatch(/^pbkdf2-sha256-chain\$1\$/);
		expect(await verifyPassword("correct horse battery staple", stored)).toBe(true);
		expect(await verifyPassword("wrong", stored)).toBe(false);
		expect(await verifyPassword("x", "garbage")).toBe(false);
		expect(await burnPasswordCheck("x")).toBe(false);
	});
});
