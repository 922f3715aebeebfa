/**
 * Canonical JSON: the one byte form of a value that is signed (consent statements) or hashed (the
 * audit chain). Two implementations must produce the same bytes for the same value, so the rules
 * are narrow and match RFC 8785 (JCS) for every value they accept:
 *
 * - objects: keys sorted by UTF-16 code units (JavaScript's default sort), no whitespace;
 * - strings: `JSON.stringify` escaping (`"` `\` and U+0000–U+001F escaped, lone surrogates as
 *   `\udxxx`, everything else literal);
 * - numbers: finite only, ECMAScript shortest round-trip form (`-0` becomes `0`);
 * - `true`, `false`, `null`, arrays;
 * - anything else (undefined, NaN, ±Infinity, bigint, functions, symbols, Dates, Maps, class
 *   instances, sparse arrays, cycles) throws, because silently dropping or converting it would
 *   sign something other than what the caller holds.
 */

/** A JSON value that canonical JSON accepts. */
export type JsonValue =
	| null
	| boolean
	| number
	| string
	| JsonValue[]
	| { [key: string]: JsonValue };

/** Nesting deeper than this throws; real statements and audit events are a few levels deep. */
export const MAX_CANONICAL_DEPTH = 64;

/** Thrown for a value that has no canonical JSON form. */
export class CanonicalJsonError extends TypeError {
	override name = "CanonicalJsonError";
}

/** The canonical JSON text of `value`; throws {@link CanonicalJsonError} for unsupported values. */
export function canonicalJson(value: unknown): string {
	return write(value, 0, new Set());
}

/** UTF-8 bytes of {@link canonicalJson}: what is actually signed or hashed. */
export function canonicalBytes(value: unknown): Uint8Array<ArrayBuffer> {
	return new TextEncoder().encode(canonicalJson(value)) as Uint8Array<ArrayBuffer>;
}

function write(value: unknown, depth: number, seen: Set<object>): string {
	switch (typeof value) {
		case "string":
			return JSON.stringify(value);
		case "boolean":
			return value ? "true" : "false";
		case "number":
			if (!Number.isFinite(value)) throw new CanonicalJsonError("non-finite number");
			return JSON.stringify(value);
		case "object":
			if (value === null) return "null";
			return writeContainer(value, depth, seen);
		default:
			throw new CanonicalJsonError(`unsupported type ${typeof value}`);
	}
}

function writeContainer(value: object, depth: number, seen: Set<object>): string {
	if (depth >= MAX_CANONICAL_DEPTH) throw new CanonicalJsonError("nested too deeply");
	if (seen.has(value)) throw new CanonicalJsonError("cycle");
	seen.add(value);
	let out: string;
	if (Array.isArray(value)) {
		const items: string[] = [];
		for (let i = 0; i < value.length; i++) {
			if (!(i in value)) throw new CanonicalJsonError("sparse array");
			items.push(write(value[i], depth + 1, seen));
		}
		out = `[${items.join(",")}]`;
	} else {
		const proto = Object.getPrototypeOf(value);
		if (proto !== Object.prototype && proto !== null) {
			throw new CanonicalJsonError("only plain objects are allowed");
		}
		if (Object.getOwnPropertySymbols(value).length > 0) {
			throw new CanonicalJsonError("symbol keys are not allowed");
		}
		const record = value as Record<string, unknown>;
		const members = Object.keys(record)
			.sort()
			.map((key) => `${JSON.stringify(key)}:${write(record[key], depth + 1, seen)}`);
		out = `{${members.join(",")}}`;
	}
	// Shared (non-cyclic) references are fine; only a path back to an ancestor is a cycle.
	seen.delete(value);
	return out;
}
