-- 0008_auth_sessions: Delegate Authentication (3-D Secure) sessions. The
-- card is sealed by the vault (key_id, credential) and set to NULL in the
-- transaction that makes the session final; the result, which holds the
-- cryptogram, is sealed too (result_key_id, result). version counts the
-- writes: an update names the version it read and changes nothing if
-- another request wrote since, whichever replica it runs on.

CREATE TABLE auth_sessions (
    id                  TEXT    PRIMARY KEY,
    merchant_id         TEXT    NOT NULL,
    agent_id            TEXT    NOT NULL,
    provider            TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    amount              BIGINT  NOT NULL,
    currency            TEXT    NOT NULL,
    checkout_session_id TEXT    NOT NULL,
    key_id              TEXT    NOT NULL,
    credential          BYTEA,
    details             BYTEA,
    action              BYTEA,
    result_key_id       TEXT    NOT NULL,
    result              BYTEA,
    state               BYTEA,
    step                TEXT    NOT NULL,
    step_until          BIGINT,
    idempotency_key     TEXT    NOT NULL,
    expires_at          BIGINT  NOT NULL,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    version             BIGINT  NOT NULL
);

CREATE INDEX auth_sessions_open ON auth_sessions (expires_at) WHERE credential IS NOT NULL;
