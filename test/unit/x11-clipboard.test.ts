import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { X11Clipboard } from "../../modules/cli/desktop/clipboard.ts";

/** A folder whose `xclip` is a shell script doing `body`, to play xclip's answers. */
function fakeXclip(body: string): string {
	const dir = mkdtempSync(join(tmpdir(), "fernwart-xclip-"));
	const file = join(dir, "xclip");
	writeFileSync(file, `#!/bin/sh\n${body}\n`);
	chmodSync(file, 0o755);
	return dir;
}

describe("reading the X clipboard", () => {
	it("tells text, an empty selection and a failed look apart", async () => {
		const read = (body: string) => X11Clipboard.open(":0", fakeXclip(body))?.read();
		expect(await read("printf 'copied'")).toBe("copied");
		// xclip's answer for an empty selection or one without text.
		expect(await read("echo 'Error: target UTF8_STRING not available' >&2; exit 1")).toBeNull();
		// A look that failed says nothing about the clipboard (a slow owner, a killed xclip).
		expect(await read("exit 2")).toBeUndefined();
		expect(await read("kill -9 $$")).toBeUndefined();
	});
});
