-- 0008_auth_sessions: Delegate Authentication (3-D Secure) sessions. The
-- card is sealed by the vault (key_id, credential) and set to NULL in the
-- transaction that makes the session final; the result, which holds the
-- cryptogram, is sealed too (result_key_id, result). version counts the
-- writes: an update names the version it read and changes nothing if
-- another request wrote since.

CREATE TABLE auth_sessions (
    id                  TEXT    PRIMARY KEY,
    merchant_id         TEXT    NOT NULL,
    agent_id            TEXT    NOT NULL,
    provider            TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    amount              INTEGER NOT NULL,
    currency            TEXT    NOT NULL,
    checkout_session_id TEXT    NOT NULL,
    key_id              TEXT    NOT NULL,
    credential          BLOB,
    details             BLOB,
    action              BLOB,
    result_key_id       TEXT    NOT NULL,
    result              BLOB,
    state               BLOB,
    step                TEXT    NOT NULL,
    step_until          INTEGER,
    idempotency_key     TEXT    NOT NULL,
    expires_at          INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL
);

-- The expiry sweep looks only at sessions that still hold a card (those
-- not final); the partial index stays small however many ended.
CREATE INDEX auth_sessions_open ON auth_sessions (expires_at) WHERE credential IS NOT NULL;
