-- 0009_write_path: fewer B-trees and pages written per payment (issue 10).
--
-- attempts loses UNIQUE (idempotency_key). The key is acpgw_<payment>_<seq>,
-- so UNIQUE (payment_id, seq) already makes it unique; its own index cost
-- every attempt an insert and was never searched. SQLite cannot drop the
-- index of a UNIQUE column constraint, so the table is rebuilt (no table
-- references attempts; its rows and columns are copied as they are).
--
-- payments_reference goes. The reference a payment holds is the one its
-- authorization attempt received, written with it in the same transaction,
-- so attempts_reference finds every reference a processor may send: one
-- index to write at a settlement instead of two.

CREATE TABLE attempts_0009 (
    id              TEXT    NOT NULL PRIMARY KEY,
    payment_id      TEXT    NOT NULL REFERENCES payments (id),
    seq             INTEGER NOT NULL,
    processor       TEXT    NOT NULL,
    operation       TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    amount          INTEGER NOT NULL,
    currency        TEXT    NOT NULL,
    refund_id       TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    outcome         TEXT    NOT NULL,
    reference       TEXT    NOT NULL,
    error           TEXT    NOT NULL,
    latency_ms      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    lease_owner     TEXT    NOT NULL,
    lease_until     INTEGER,
    deadline        INTEGER,
    authentication  TEXT,
    UNIQUE (payment_id, seq)
) WITHOUT ROWID;

INSERT INTO attempts_0009 (id, payment_id, seq, processor, operation, idempotency_key, amount, currency, refund_id,
    state, outcome, reference, error, latency_ms, started_at, finished_at, lease_owner, lease_until, deadline,
    authentication)
SELECT id, payment_id, seq, processor, operation, idempotency_key, amount, currency, refund_id,
    state, outcome, reference, error, latency_ms, started_at, finished_at, lease_owner, lease_until, deadline,
    authentication
FROM attempts;

DROP TABLE attempts;
ALTER TABLE attempts_0009 RENAME TO attempts;

CREATE INDEX attempts_pending ON attempts (started_at) WHERE state = 'pending';
CREATE INDEX attempts_reference ON attempts (reference) WHERE reference != '';

DROP INDEX payments_reference;

-- idempotency becomes a rowid table; it was WITHOUT ROWID, clustered on
-- the client's key. A settlement stores its answer (most of a kilobyte) in
-- the row its intent claimed: clustered on a random key, that row sat on a
-- random page of a large table, which each settlement rewrote and often
-- split. In rowid order the rows claimed at the same moment share the
-- newest pages, which one group commit writes once; the key is found
-- through the index of UNIQUE (scope, key), whose entries are small.

CREATE TABLE idempotency_0009 (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    api_version  TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    resource_id  TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB,
    locked_until INTEGER,
    created_at   INTEGER,
    expires_at   INTEGER,
    UNIQUE (scope, key)
);

INSERT INTO idempotency_0009 (scope, key, request_hash, api_version, state, resource_id, status, body,
    locked_until, created_at, expires_at)
SELECT scope, key, request_hash, api_version, state, resource_id, status, body,
    locked_until, created_at, expires_at
FROM idempotency ORDER BY created_at;

DROP TABLE idempotency;
ALTER TABLE idempotency_0009 RENAME TO idempotency;

-- PurgeIdempotency deletes by expiry.
CREATE INDEX idempotency_expires ON idempotency (expires_at);
