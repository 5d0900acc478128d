-- 0002_events_fees: processor webhook events (stored once each) and actual
-- fee records (imported once each), plus the lookups webhooks need.

CREATE TABLE processor_events (
    processor   TEXT   NOT NULL,
    event_id    TEXT   NOT NULL,
    type        TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    reference   TEXT   NOT NULL,
    payment_id  TEXT   NOT NULL,
    result      TEXT   NOT NULL,
    raw         BYTEA,
    received_at BIGINT,
    PRIMARY KEY (processor, event_id)
);

CREATE TABLE fee_records (
    source     TEXT   NOT NULL,
    source_ref TEXT   NOT NULL,
    payment_id TEXT   NOT NULL,
    processor  TEXT   NOT NULL,
    amount     BIGINT NOT NULL,
    currency   TEXT   NOT NULL,
    created_at BIGINT,
    PRIMARY KEY (source, source_ref)
);

CREATE INDEX fee_records_payment ON fee_records (payment_id);

-- Webhooks find payments by the processor's reference.
CREATE INDEX payments_reference ON payments (processor, processor_reference);
CREATE INDEX attempts_reference ON attempts (reference) WHERE reference <> '';

-- Reports scan by time across merchants.
CREATE INDEX payments_created ON payments (created_at, id);
