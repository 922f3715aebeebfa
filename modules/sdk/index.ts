/**
 * The Fernwart SDK: everything a module (browser, CLI, host agent) needs to speak `fernwart.v1`.
 * Isomorphic: runs in Node 24, browsers and workerd without `node:` imports.
 */
export * from "../../protocol/canonical.ts";
export * from "../../protocol/control.ts";
export * from "../../protocol/encoding.ts";
export * from "../../protocol/frame.ts";
export * from "../../protocol/input.ts";
export * from "../../protocol/signature.ts";
export * from "../../protocol/video.ts";
export * from "./api.ts";
export * from "./crypto.ts";
export * from "./session.ts";
