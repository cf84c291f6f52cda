CREATE TABLE IF NOT EXISTS erasure_requests (
    id               TEXT        PRIMARY KEY,
    kind             TEXT        NOT NULL,
    state            TEXT        NOT NULL,
    subject          TEXT,
    contact_email    TEXT,
    subject_hash     TEXT        NOT NULL,
    token_hash       TEXT,
    token_expires_at TIMESTAMPTZ,
    received_at      TIMESTAMPTZ NOT NULL,
    due_at           TIMESTAMPTZ NOT NULL,
    confirmed_at     TIMESTAMPTZ,
    not_before       TIMESTAMPTZ,
    closed_at        TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL,
    note             TEXT,
    outcome          TEXT,
    attempts         BIGINT      NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS erasure_requests_queue ON erasure_requests (kind, state, received_at);
CREATE INDEX IF NOT EXISTS erasure_requests_subject ON erasure_requests (subject_hash, kind);
CREATE INDEX IF NOT EXISTS erasure_requests_due ON erasure_requests (due_at);
CREATE INDEX IF NOT EXISTS erasure_requests_closed ON erasure_requests (closed_at);
