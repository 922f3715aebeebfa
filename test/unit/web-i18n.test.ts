import { describe, expect, it } from "vitest";
import { messages, pickLang } from "../../functions/web/i18n.ts";

describe("web console language", () => {
	it("prefers ?lang=, then the cookie, then Accept-Language by quality", () => {
		expect(pickLang("de", "en", "en")).toBe("de");
		expect(pickLang(undefined, "de", "en")).toBe("de");
		expect(pickLang("xx", undefined, "fr;q=1, de-AT;q=0.8, en;q=0.5")).toBe("de");
		expect(pickLang(undefined, undefined, "en-GB;q=0.4, de;q=0.9")).toBe("de");
		expect(pickLang(undefined, undefined, "de;q=0, en")).toBe("en");
	});

	it("falls back to English for unknown or missing languages", () => {
		expect(pickLang(undefined, undefined, undefined)).toBe("en");
		expect(pickLang(undefined, "fr", "fr, es")).toBe("en");
	});

	it("has every text in both languages, with the same placeholders", () => {
		const en = messages("en");
		const de = messages("de");
		expect(Object.keys(de).sort()).toEqual(Object.keys(en).sort());
		const slots = (text: string) => [...text.matchAll(/\{\w+\}/g)].map((m) => m[0]).sort();
		for (const key of Object.keys(en) as (keyof typeof en)[]) {
			expect(slots(de[key]), key).toEqual(slots(en[key]));
			expect(de[key].length, key).toBeGreaterThan(0);
		}
	});
});
