/** The part of postject's API build-modules.ts uses (postject 1.0.0-alpha.6 ships no types). */
declare module "postject" {
	/**
	 * Injects `data` as resource `name` into the executable `file` (ELF, PE or Mach-O), in place,
	 * and flips `sentinelFuse` so that the runtime looks for it.
	 */
	export function inject(
		file: string,
		name: string,
		data: Uint8Array,
		options?: { sentinelFuse?: string; machoSegmentName?: string; overwrite?: boolean },
	): Promise<void>;
}
