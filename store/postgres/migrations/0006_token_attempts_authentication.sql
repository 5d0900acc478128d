-- 0006_token_attempts_authentication: a retryable decline leaves its token
-- usable (issue 12), so a token counts the payments made with it; and an
-- attempt keeps the 3-D Secure result it was sent with.
--
-- tokens.attempts: the payments that held the token and reached a
-- processor. A token consumed before this migration was used once.
-- attempts.authentication: JSON of the result's outcome, ECI, transaction
-- id and version, NULL without one. The cryptogram is never stored.

ALTER TABLE tokens ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
UPDATE tokens SET attempts = 1 WHERE consumed_at IS NOT NULL;
ALTER TABLE attempts ADD COLUMN authentication TEXT;
