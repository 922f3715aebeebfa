import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

/** A real S3-compatible server on loopback (s3rver, files in a temp folder), with one bucket. */
export interface TestS3 {
	/** `S3_URL` for the server under test: credentials, endpoint and bucket. */
	s3Url: string;
	/** The bucket's plain URL, for reading objects directly (signed with {@link credentials}). */
	bucketUrl: string;
	credentials: { accessKeyId: string; secretAccessKey: string };
	close(): Promise<void>;
}

/** Starts s3rver with `bucket` on 127.0.0.1 and a free port; its default keys are S3RVER/S3RVER. */
export async function startS3(bucket: string): Promise<TestS3> {
	const server = new S3rver({
		address: "127.0.0.1",
		port: 0,
		silent: true,
		directory: mkdtempSync(join(tmpdir(), "fernwart-s3-")),
		configureBuckets: [{ name: bucket, configs: [] }],
	});
	const { port } = (await server.run()) as { port: number };
	let closed = false;
	return {
		s3Url: `http://S3RVER:S3RVER@127.0.0.1:${port}/${bucket}`,
		bucketUrl: `http://127.0.0.1:${port}/${bucket}`,
		credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
		async close() {
			if (closed) return;
			closed = true;
			await server.close();
		},
	};
}
