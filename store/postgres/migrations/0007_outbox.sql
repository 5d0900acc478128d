-- 0007_outbox: merchant events. Each is written in the transaction of the
-- payment change it reports (the outbox), then delivered by workers that
-- lease it with FOR UPDATE SKIP LOCKED; every attempt is kept. Payments
-- also keep the last dispute a processor reported.

ALTER TABLE payments ADD COLUMN dispute TEXT;

-- seq is taken when the event is inserted, which is after the transaction
-- locked its payment's row: the events of one payment are numbered in the
-- order their transactions commit.
CREATE TABLE outbox_events (
    seq             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    merchant_id     TEXT    NOT NULL,
    payment_id      TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    body            BYTEA   NOT NULL,
    created_at      BIGINT  NOT NULL,
    state           TEXT    NOT NULL,
    replay          BOOLEAN NOT NULL,
    since           BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    last_status     INTEGER NOT NULL,
    last_error      TEXT    NOT NULL,
    delivered_at    BIGINT,
    lease_owner     TEXT    NOT NULL,
    lease_until     BIGINT
);

CREATE INDEX outbox_due ON outbox_events (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_payment ON outbox_events (payment_id, seq);
CREATE INDEX outbox_merchant ON outbox_events (merchant_id, seq);

CREATE TABLE outbox_deliveries (
    event_id    TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    at          BIGINT  NOT NULL,
    status_code INTEGER NOT NULL,
    latency_ms  BIGINT  NOT NULL,
    error       TEXT    NOT NULL,
    PRIMARY KEY (event_id, n)
);
