/** Types of the generated module server/web-assets.ts writes next to this file. */
export declare const WEB_ASSETS: Record<string, { type: string; body: string; etag: string }>;
