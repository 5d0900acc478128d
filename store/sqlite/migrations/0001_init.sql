-- 0001_init: the first schema.
--
-- Conventions, kept portable so that store/postgres can use the same design:
-- ids are TEXT; amounts are INTEGER minor units; timestamps are INTEGER unix
-- nanoseconds UTC (BIGINT in Postgres), NULL for an unset time; maps and the
-- decline are JSON TEXT; byte slices are BLOB (BYTEA in Postgres).
--
-- WITHOUT ROWID (SQLite only; drop it for Postgres) keeps each table in the
-- B-tree of its primary key, so an insert writes one B-tree fewer: fewer
-- pages per commit, which is what write throughput is made of here.

CREATE TABLE tokens (
    id                  TEXT    NOT NULL PRIMARY KEY,
    merchant_id         TEXT    NOT NULL,
    checkout_session_id TEXT    NOT NULL,
    max_amount          INTEGER NOT NULL,
    currency            TEXT    NOT NULL,
    expires_at          INTEGER,
    reason              TEXT    NOT NULL,
    key_id              TEXT    NOT NULL,
    credential          BLOB    NOT NULL,
    cvc                 BLOB,
    brand               TEXT    NOT NULL,
    funding             TEXT    NOT NULL,
    last4               TEXT    NOT NULL,
    iin                 TEXT    NOT NULL,
    country             TEXT    NOT NULL,
    metadata            TEXT    NOT NULL,
    agent_id            TEXT    NOT NULL,
    idempotency_key     TEXT    NOT NULL,
    created_at          INTEGER,
    consumed_at         INTEGER,
    payment_id          TEXT    NOT NULL
) WITHOUT ROWID;

CREATE TABLE payments (
    id                  TEXT    NOT NULL PRIMARY KEY,
    merchant_id         TEXT    NOT NULL,
    checkout_session_id TEXT    NOT NULL,
    token_id            TEXT    NOT NULL,
    token_kind          TEXT    NOT NULL,
    amount              INTEGER NOT NULL,
    currency            TEXT    NOT NULL,
    capture             TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    processor           TEXT    NOT NULL,
    processor_type      TEXT    NOT NULL,
    processor_reference TEXT    NOT NULL,
    decline             TEXT,
    captured_amount     INTEGER NOT NULL,
    refunded_amount     INTEGER NOT NULL,
    refund_pending      INTEGER NOT NULL,
    fee_estimated       INTEGER NOT NULL,
    fee_actual          INTEGER,
    fee_currency        TEXT    NOT NULL,
    routing             BLOB,
    metadata            TEXT    NOT NULL,
    created_at          INTEGER,
    updated_at          INTEGER
) WITHOUT ROWID;

CREATE TABLE attempts (
    id              TEXT    NOT NULL PRIMARY KEY,
    payment_id      TEXT    NOT NULL REFERENCES payments (id),
    seq             INTEGER NOT NULL,
    processor       TEXT    NOT NULL,
    operation       TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
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
    UNIQUE (payment_id, seq)
) WITHOUT ROWID;

-- Reconciliation looks only at pending attempts, oldest first; a partial
-- index stays small however many finished attempts pile up. The state is a
-- literal in the query so that the planner can use it.
CREATE INDEX attempts_pending ON attempts (started_at) WHERE state = 'pending';

CREATE TABLE refunds (
    id         TEXT    NOT NULL PRIMARY KEY,
    payment_id TEXT    NOT NULL REFERENCES payments (id),
    amount     INTEGER NOT NULL,
    currency   TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    reference  TEXT    NOT NULL,
    created_at INTEGER,
    updated_at INTEGER
) WITHOUT ROWID;

CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

CREATE TABLE idempotency (
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
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;

-- PurgeIdempotency deletes by expiry.
CREATE INDEX idempotency_expires ON idempotency (expires_at);
