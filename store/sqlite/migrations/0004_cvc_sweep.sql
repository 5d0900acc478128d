-- 0004_cvc_sweep: the CVC sweep (vault.cvc_ttl) finds the tokens that still
-- hold a CVC, oldest first, without reading the others.

CREATE INDEX tokens_cvc ON tokens (created_at) WHERE cvc IS NOT NULL;
