-- 0009_write_path: fewer indexes written per payment (issue 10).
--
-- attempts loses UNIQUE (idempotency_key). The key is acpgw_<payment>_<seq>,
-- so UNIQUE (payment_id, seq) already makes it unique; its own index cost
-- every attempt an insert and was never searched.
--
-- payments_reference goes. The reference a payment holds is the one its
-- authorization attempt received, written with it in the same transaction,
-- so attempts_reference finds every reference a processor may send: one
-- index to write at a settlement instead of two.

ALTER TABLE attempts DROP CONSTRAINT attempts_idempotency_key_key;
DROP INDEX payments_reference;
