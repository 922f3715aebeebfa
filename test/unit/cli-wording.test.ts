import { describe, expect, it } from "vitest";
import { describeControl } from "../../modules/cli/common.ts";

describe("CLI wording", () => {
	it("counts one byte in the singular and other sizes in the plural", () => {
		expect(describeControl({ type: "file.offer", name: "a.txt", size: 1 })).toBe(
			"File offered: a.txt (1 byte)",
		);
		expect(describeControl({ type: "file.offer", name: "b.txt", size: 2048 })).toBe(
			"File offered: b.txt (2048 bytes)",
		);
	});
});
