CREATE TABLE IF NOT EXISTS erasure_receipts (
    run_id       TEXT    PRIMARY KEY,
    recorded_at  TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    subject_kind TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    operator     TEXT,
    deleted      INTEGER NOT NULL,
    anonymized   INTEGER NOT NULL,
    deferred     INTEGER NOT NULL,
    retained     INTEGER NOT NULL,
    body         TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS erasure_receipts_subject ON erasure_receipts (subject);
CREATE INDEX IF NOT EXISTS erasure_receipts_recorded ON erasure_receipts (recorded_at);
CREATE TABLE IF NOT EXISTS erasure_outbox (
    id              TEXT    PRIMARY KEY,
    run_id          TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    position        INTEGER,
    handler         TEXT,
    created_at      TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    claim           TEXT,
    locked_until    TEXT,
    delivered_at    TEXT,
    last_error      TEXT,
    payload         TEXT
);
CREATE INDEX IF NOT EXISTS erasure_outbox_due ON erasure_outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS erasure_outbox_run ON erasure_outbox (run_id);
CREATE TABLE IF NOT EXISTS erasure_suppressions (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    run_id     TEXT NOT NULL
);
