import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, createUserAs, mustLogin } from "../helpers/auth.ts";
import {
	admitCustomer,
	hasChromium,
	issueSupportId,
	joinAndAcceptTerms,
	launchChromium,
	logIn,
	screenshot,
	watchErrors,
} from "../helpers/browser.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SUPPORTER = { email: "files-supporter@example.test", password: "supporter password 1" };

/** Deterministic bytes over several 64 KiB frames, so chunking and reassembly are exercised. */
function testBytes(length: number, seed: number): Buffer {
	const out = Buffer.alloc(length);
	let x = seed;
	for (let i = 0; i < length; i++) {
		x = (x * 1103515245 + 12345) >>> 0;
		out[i] = x >>> 24;
	}
	return out;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Drops a file on #files-drop the way a drag from the desktop does. */
async function dropFile(page: Page, name: string, bytes: Buffer): Promise<void> {
	const dataTransfer = await page.evaluateHandle(
		([fileName, base64]) => {
			const binary = atob(base64 ?? "");
			const data = Uint8Array.from(binary, (c) => c.charCodeAt(0));
			const transfer = new DataTransfer();
			transfer.items.add(new File([data], fileName ?? "file"));
			return transfer;
		},
		[name, bytes.toString("base64")],
	);
	await page.dispatchEvent("#files-drop", "drop", { dataTransfer });
}

/** Clicks the download link of a received file; returns the saved bytes. */
async function download(page: Page, fileId: string): Promise<{ name: string; bytes: Buffer }> {
	const [saved] = await Promise.all([
		page.waitForEvent("download"),
		page.click(`#files-list li[data-file-id="${fileId}"] a[download]`),
	]);
	return { name: saved.suggestedFilename(), bytes: readFileSync(await saved.path()) };
}

describe.skipIf(!hasChromium)("file transfer in the session pages", () => {
	let server: TestServer;
	let browser: Browser;
	let staff: BrowserContext;
	let customerContext: BrowserContext;
	const errors: string[][] = [];

	beforeAll(async () => {
		server = await startServer();
		const admin = await mustLogin(server, ADMIN);
		await createUserAs(server, admin.accessToken, { ...SUPPORTER, role: "supporter" });
		browser = await launchChromium();
		staff = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "en-US",
			viewport: { width: 1280, height: 1000 },
			acceptDownloads: true,
		});
		customerContext = await browser.newContext({
			ignoreHTTPSErrors: true,
			locale: "de-DE",
			viewport: { width: 1280, height: 1000 },
			acceptDownloads: true,
		});
	});

	afterAll(async () => {
		const seen = errors.flat();
		if (seen.length) console.log(`page errors:\n${seen.join("\n")}`);
		await browser?.close();
		await server?.stop();
	});

	it("sends a file each way, verified by SHA-256 in the page and in the download; a rejected offer delivers nothing", async () => {
		const base = server.url;
		const supporter = await staff.newPage();
		errors.push(watchErrors(supporter));
		await logIn(supporter, base, SUPPORTER);
		const code = await issueSupportId(supporter);

		const customer = await customerContext.newPage();
		errors.push(watchErrors(customer));
		await joinAndAcceptTerms(customer, base, code);
		await admitCustomer(supporter);
		await customer.waitForSelector("#files-input:not([disabled])");
		await supporter.waitForSelector("#files-input:not([disabled])");

		// Customer → supporter, dropped on the panel: 300 kB, five frames.
		const report = testBytes(300_000, 7);
		await dropFile(customer, "Fehlerbericht.bin", report);
		await supporter.waitForSelector("#consent[open]");
		expect(await supporter.textContent("#consent-text")).toContain("Fehlerbericht.bin");
		expect(await supporter.textContent("#consent-allow")).toBe("Accept");
		await screenshot(supporter, "20-files-offer");
		await supporter.click("#consent-allow");
		const incoming = await supporter.waitForSelector('#files-list li.in[data-state="received"]');
		const incomingId = (await incoming.getAttribute("data-file-id")) ?? "";
		expect(Number(incomingId) % 2).toBe(0); // the customer's ids are even
		expect(await incoming.getAttribute("data-sha256")).toBe(sha256(report));
		await customer.waitForSelector('#files-list li.out[data-state="sent"]');
		const saved = await download(supporter, incomingId);
		expect(saved.name).toBe("Fehlerbericht.bin");
		expect(sha256(saved.bytes)).toBe(sha256(report));
		await screenshot(supporter, "21-files-received-console");

		// Supporter → customer, through the file input; the German dialog says "Annehmen".
		const tool = testBytes(150_000, 11);
		await supporter.setInputFiles("#files-input", {
			name: "repair-tool.zip",
			mimeType: "application/zip",
			buffer: tool,
		});
		await customer.waitForSelector("#consent[open]");
		expect(await customer.textContent("#consent-text")).toContain("repair-tool.zip");
		expect(await customer.textContent("#consent-allow")).toBe("Annehmen");
		await screenshot(customer, "22-files-offer-customer");
		await customer.click("#consent-allow");
		const back = await customer.waitForSelector('#files-list li.in[data-state="received"]');
		const backId = (await back.getAttribute("data-file-id")) ?? "";
		expect(await back.getAttribute("data-sha256")).toBe(sha256(tool));
		const savedBack = await download(customer, backId);
		expect(savedBack.name).toBe("repair-tool.zip");
		expect(sha256(savedBack.bytes)).toBe(sha256(tool));
		await supporter.waitForSelector(
			`#files-list li.out[data-file-id="${backId}"][data-state="sent"]`,
		);

		// A rejected offer: the sender is told, the receiver gets no bytes and no download.
		await supporter.setInputFiles("#files-input", {
			name: "unwanted.exe",
			mimeType: "application/octet-stream",
			buffer: testBytes(70_000, 13),
		});
		await customer.waitForSelector("#consent[open]");
		await customer.click("#consent-deny");
		const rejected = await supporter.waitForSelector('#files-list li.out[data-state="rejected"]');
		expect(await rejected.textContent()).toContain("rejected this file");
		const declined = await customer.waitForSelector('#files-list li.in[data-state="declined"]');
		expect(await declined.$("a")).toBeNull();
		expect(await declined.getAttribute("data-sha256")).toBeNull();
		expect(await customer.locator('#files-list li.in[data-state="received"]').count()).toBe(1);
		await screenshot(customer, "23-files-customer");
		await screenshot(supporter, "24-files-console");

		// The relay's record agrees: two done, one rejected.
		const state = await supporter.evaluate(
			() => document.querySelectorAll("#files-list li").length,
		);
		expect(state).toBe(3);

		expect(errors.flat().filter((e) => !e.includes("camera is not allowed"))).toEqual([]);
	});
});
