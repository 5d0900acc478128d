-- 0003_cvc_data_keys: CVCs are now sealed under per-token data keys that
-- live only in the memory of the process that issued the token (see
-- vault.CVCKeys), so that erasing a CVC destroys every copy of it. CVCs
-- sealed before were sealed under a vault key, which stays; they are erased
-- here, and their tokens pay without a CVC (as after a restart).
--
-- Copies written before this migration are beyond its reach: old row
-- versions and write-ahead log segments keep them until the database
-- reclaims them (see README, "Security").

UPDATE tokens SET cvc = NULL WHERE cvc IS NOT NULL;
