// The worker's only way out. Every outbound fetch lands here and is refused with a clear error
// (workerd's own refusal is a bare "internal error"). Admin-configured targets (SMTP, S3) are
// reached through service bindings, never through this door.
export default {
	fetch() {
		return new Response(
			JSON.stringify({
				error: { code: "EGRESS_DENIED", message: "Outbound connections are not configured." },
			}),
			{ status: 403, headers: { "content-type": "application/json" } },
		);
	},
};
