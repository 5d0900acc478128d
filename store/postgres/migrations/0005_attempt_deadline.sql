-- 0005_attempt_deadline: each attempt records the client-side deadline of
-- its call (unix nanoseconds), so that reconciliation leaves an attempt
-- alone until its own call has surely ended, whatever timeout a config
-- reload set since. Attempts written before this migration, or by a replica
-- still running an older acpgw, have none (NULL); reconciliation then allows
-- them the largest current timeout.
ALTER TABLE attempts ADD COLUMN deadline BIGINT;
