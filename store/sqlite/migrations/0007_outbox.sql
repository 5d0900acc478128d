-- 0007_outbox: merchant events. Each is written in the transaction of the
-- payment change it reports (the outbox), then delivered by workers that
-- lease it; every attempt is kept. Payments also keep the last dispute a
-- processor reported.

ALTER TABLE payments ADD COLUMN dispute TEXT;

-- seq is the rowid: SQLite has one writer, so it numbers events in commit
-- order, which orders the events of a payment.
CREATE TABLE outbox_events (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    merchant_id     TEXT    NOT NULL,
    payment_id      TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    replay          INTEGER NOT NULL,
    since           INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER NOT NULL,
    last_error      TEXT    NOT NULL,
    delivered_at    INTEGER,
    lease_owner     TEXT    NOT NULL,
    lease_until     INTEGER
);

-- Workers look only at pending events, the earliest due first; the partial
-- index stays small however many delivered events pile up.
CREATE INDEX outbox_due ON outbox_events (next_attempt_at) WHERE state = 'pending';
-- An event waits for the earlier pending events of its payment; the API
-- lists a payment's events.
CREATE INDEX outbox_payment ON outbox_events (payment_id, seq);
-- The API lists a merchant's events, newest first.
CREATE INDEX outbox_merchant ON outbox_events (merchant_id, seq);

CREATE TABLE outbox_deliveries (
    event_id    TEXT    NOT NULL,
    n           INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    error       TEXT    NOT NULL,
    PRIMARY KEY (event_id, n)
) WITHOUT ROWID;
