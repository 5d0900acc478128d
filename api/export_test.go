package api

// CanonicalHash exposes the idempotency body hash to the external tests.
var CanonicalHash = canonicalHash
