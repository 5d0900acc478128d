-- 0001_init: the first schema, the same design as store/sqlite's 0001.
--
-- ids are TEXT; amounts are BIGINT minor units; timestamps are BIGINT unix
-- nanoseconds UTC, NULL for an unset time (the same encoding as SQLite, so
-- both backends keep full precision and a dump compares field by field);
-- maps and the decline are JSON TEXT (never queried inside, so kept as
-- written rather than re-encoded as JSONB); byte slices are BYTEA.

CREATE TABLE tokens (
    id                  TEXT   NOT NULL PRIMARY KEY,
    merchant_id         TEXT   NOT NULL,
    checkout_session_id TEXT   NOT NULL,
    max_amount          BIGINT NOT NULL,
    currency            TEXT   NOT NULL,
    expires_at          BIGINT,
    reason              TEXT   NOT NULL,
    key_id              TEXT   NOT NULL,
    credential          BYTEA  NOT NULL,
    cvc                 BYTEA,
    brand               TEXT   NOT NULL,
    funding             TEXT   NOT NULL,
    last4               TEXT   NOT NULL,
    iin                 TEXT   NOT NULL,
    country             TEXT   NOT NULL,
    metadata            TEXT   NOT NULL,
    agent_id            TEXT   NOT NULL,
    idempotency_key     TEXT   NOT NULL,
    created_at          BIGINT,
    consumed_at         BIGINT,
    payment_id          TEXT   NOT NULL
);

CREATE TABLE payments (
    id                  TEXT   NOT NULL PRIMARY KEY,
    merchant_id         TEXT   NOT NULL,
    checkout_session_id TEXT   NOT NULL,
    token_id            TEXT   NOT NULL,
    token_kind          TEXT   NOT NULL,
    amount              BIGINT NOT NULL,
    currency            TEXT   NOT NULL,
    capture             TEXT   NOT NULL,
    status              TEXT   NOT NULL,
    processor           TEXT   NOT NULL,
    processor_type      TEXT   NOT NULL,
    processor_reference TEXT   NOT NULL,
    decline             TEXT,
    captured_amount     BIGINT NOT NULL,
    refunded_amount     BIGINT NOT NULL,
    refund_pending      BIGINT NOT NULL,
    fee_estimated       BIGINT NOT NULL,
    fee_actual          BIGINT,
    fee_currency        TEXT   NOT NULL,
    routing             BYTEA,
    metadata            TEXT   NOT NULL,
    created_at          BIGINT,
    updated_at          BIGINT
);

CREATE TABLE attempts (
    id              TEXT    NOT NULL PRIMARY KEY,
    payment_id      TEXT    NOT NULL REFERENCES payments (id),
    seq             INTEGER NOT NULL,
    processor       TEXT    NOT NULL,
    operation       TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    amount          BIGINT  NOT NULL,
    currency        TEXT    NOT NULL,
    refund_id       TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    outcome         TEXT    NOT NULL,
    reference       TEXT    NOT NULL,
    error           TEXT    NOT NULL,
    latency_ms      BIGINT  NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    lease_owner     TEXT    NOT NULL,
    lease_until     BIGINT,
    UNIQUE (payment_id, seq)
);

-- Reconciliation looks only at pending attempts, oldest first; a partial
-- index stays small however many finished attempts pile up. The state is a
-- literal in the query so that the planner can use it.
CREATE INDEX attempts_pending ON attempts (started_at, id) WHERE state = 'pending';

CREATE TABLE refunds (
    id         TEXT   NOT NULL PRIMARY KEY,
    payment_id TEXT   NOT NULL REFERENCES payments (id),
    amount     BIGINT NOT NULL,
    currency   TEXT   NOT NULL,
    status     TEXT   NOT NULL,
    reference  TEXT   NOT NULL,
    created_at BIGINT,
    updated_at BIGINT
);

CREATE INDEX refunds_payment ON refunds (payment_id, created_at);

CREATE TABLE idempotency (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    api_version  TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    resource_id  TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BYTEA,
    locked_until BIGINT,
    created_at   BIGINT,
    expires_at   BIGINT,
    PRIMARY KEY (scope, key)
);

-- PurgeIdempotency deletes by expiry.
CREATE INDEX idempotency_expires ON idempotency (expires_at);
