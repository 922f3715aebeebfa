/**
 * What every page script shares: its texts, element lookup, the login kept in sessionStorage and
 * an API client that refreshes the access token once when it has expired.
 *
 * Tokens go in the Authorization header, never in cookies: the browser then sends no credential
 * on its own, so no other site can make a request in the user's name (no CSRF surface). The
 * price is that a script on this origin could read them; the pages' CSP admits only this
 * server's own scripts (docs/web.md).
 */
import { type ApiClient, ApiError, createApiClient, type FetchLike } from "../sdk/api.ts";

/** The page's dictionary, rendered by the server into `<script type="application/json">`. */
export type Texts = Record<string, string>;

let texts: Texts | null = null;

/** The text for `key`, with `{name}` placeholders filled in. */
export function t(key: string, values: Record<string, string | number> = {}): string {
	if (!texts) {
		const block = document.getElementById("i18n");
		texts = block?.textContent ? (JSON.parse(block.textContent) as Texts) : {};
	}
	// A count of exactly one takes the `.one` text where there is one ("1 event", "1 Eintrag").
	const text = (values.count === 1 ? texts[`${key}.one`] : undefined) ?? texts[key] ?? key;
	return text.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}

/** The element with `id`, typed; a missing one is a bug in the page, so it throws. */
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
	const el = document.getElementById(id);
	if (!el) throw new Error(`#${id} is missing`);
	return el as T;
}

/** Shows or hides an element. */
export function show(el: HTMLElement, visible = true): void {
	el.hidden = !visible;
}

/** The browser's fetch in the shape the SDK expects. */
export const browserFetch: FetchLike = (url, init) => fetch(url, init);

/** A WebSocket factory for the SDK that also remembers the socket, to read its backlog. */
export function trackedWebSocket(): {
	factory: (url: string) => WebSocket;
	bufferedAmount: () => number;
} {
	let current: WebSocket | null = null;
	return {
		factory: (url) => {
			current = new WebSocket(url);
			return current;
		},
		bufferedAmount: () => current?.bufferedAmount ?? 0,
	};
}

// ---------------------------------------------------------------------------------------------
// Login state

const AUTH_KEY = "fernwart.auth";

export interface StoredAuth {
	accessToken: string;
	refreshToken: string | null;
	user: { id: string; email: string; role: string };
}

/**
 * sessionStorage, not localStorage: the login ends with the tab, and another tab does not
 * inherit it silently.
 */
export function loadAuth(): StoredAuth | null {
	try {
		const raw = sessionStorage.getItem(AUTH_KEY);
		return raw ? (JSON.parse(raw) as StoredAuth) : null;
	} catch {
		return null; // unreadable storage is the same as not logged in
	}
}

export function saveAuth(auth: StoredAuth | null): void {
	if (auth) sessionStorage.setItem(AUTH_KEY, JSON.stringify(auth));
	else sessionStorage.removeItem(AUTH_KEY);
}

/** Sends the user to the login page, coming back to this page afterwards. */
export function redirectToLogin(): never {
	location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
	throw new Error("redirecting to login");
}

/** Trades the refresh token for a new pair; false when the login is gone. */
async function refresh(auth: StoredAuth): Promise<boolean> {
	if (!auth.refreshToken) return false;
	const res = await fetch("/api/v1/auth/refresh", {
		method: "POST",
		headers: { "content-type": "application/json" },
		body: JSON.stringify({ refreshToken: auth.refreshToken }),
	});
	if (!res.ok) return false;
	const body = (await res.json()) as { accessToken?: string; refreshToken?: string };
	if (!body.accessToken) return false;
	saveAuth({ ...auth, accessToken: body.accessToken, refreshToken: body.refreshToken ?? null });
	return true;
}

/**
 * A JSON request with the stored access token; one refresh and retry on 401. Returns the parsed
 * body (undefined for 204). Throws {@link ApiError} on a refusal.
 */
export async function apiJson<T = unknown>(
	method: string,
	path: string,
	body?: unknown,
): Promise<T> {
	for (let attempt = 0; attempt < 2; attempt++) {
		const auth = loadAuth();
		if (!auth) redirectToLogin();
		const headers: Record<string, string> = {
			accept: "application/json",
			authorization: `Bearer ${auth.accessToken}`,
		};
		if (body !== undefined) headers["content-type"] = "application/json";
		const res = await fetch(path, {
			method,
			headers,
			...(body !== undefined ? { body: JSON.stringify(body) } : {}),
		});
		if (res.status === 401 && attempt === 0 && (await refresh(auth))) continue;
		if (res.status === 401) {
			saveAuth(null);
			redirectToLogin();
		}
		const text = await res.text();
		const json: unknown = text ? JSON.parse(text) : undefined;
		if (res.status >= 400) {
			const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
			throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? "");
		}
		return json as T;
	}
	throw new ApiError(401, "UNAUTHENTICATED", "log in again");
}

/** An SDK client using the stored access token (refreshed first when needed). */
export async function authedClient(): Promise<ApiClient> {
	await apiJson("GET", "/api/v1/me"); // refreshes an expired token, or goes to the login page
	const api = createApiClient({ baseUrl: location.origin, fetch: browserFetch });
	api.setAccessToken(loadAuth()?.accessToken ?? null);
	return api;
}

/**
 * Wires the header of staff pages: the logout button, and the Administration link, which only an
 * admin sees (the page refuses everyone else; a link that leads to a refusal is a dead end).
 */
export function setupLogout(): void {
	const auth = loadAuth();
	const adminLink = document.querySelector<HTMLElement>('nav a[href="/admin"]');
	if (adminLink && auth && auth.user.role !== "admin") show(adminLink, false);
	const button = document.getElementById("logout");
	if (!button || !auth) return;
	show(button);
	showOwnPicture();
	button.addEventListener("click", () => {
		const auth = loadAuth();
		saveAuth(null);
		const done = () => location.assign("/login");
		if (!auth?.refreshToken) return done();
		fetch("/api/v1/auth/logout", {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ refreshToken: auth.refreshToken }),
		}).then(done, done);
	});
}

/**
 * The signed-in user's profile picture in the header, where the admin turned pictures on (their
 * own S3 store) and the user has one. Served by this server, so the page's CSP stays closed.
 */
function showOwnPicture(): void {
	const img = document.getElementById("me-picture") as HTMLImageElement | null;
	if (!img) return;
	apiJson<{ displayName: string; pictureUrl: string | null; features?: { pictures?: boolean } }>(
		"GET",
		"/api/v1/me",
	).then(
		(me) => {
			if (!me.features?.pictures || !me.pictureUrl) return;
			img.src = me.pictureUrl;
			img.alt = me.displayName;
			img.title = me.displayName;
			show(img);
		},
		() => {}, // no picture is no reason to bother anyone
	);
}

/** A readable message for a failure, in the page's language. */
export function describeError(err: unknown): string {
	if (err instanceof ApiError) {
		if (err.status === 0) return t("error.network");
		return t("error.generic", { message: err.message || err.code });
	}
	return t("error.generic", { message: err instanceof Error ? err.message : String(err) });
}

/** Formats `ms` as m:ss. */
export function formatDuration(ms: number): string {
	const total = Math.max(0, Math.ceil(ms / 1000));
	return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}
