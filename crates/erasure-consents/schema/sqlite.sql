CREATE TABLE IF NOT EXISTS erasure_consent_wordings (
    id        TEXT    PRIMARY KEY,
    purpose   TEXT    NOT NULL,
    version   TEXT    NOT NULL,
    language  TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    text      TEXT    NOT NULL,
    stored_at TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS erasure_consent_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind TEXT    NOT NULL,
    key_type     TEXT,
    customer_key TEXT,
    user_key     TEXT,
    email        TEXT,
    subject_ref  TEXT,
    purpose      TEXT    NOT NULL,
    channel      TEXT,
    given        INTEGER NOT NULL,
    wording_id   TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    at           TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS erasure_consent_changes_current ON erasure_consent_changes (purpose, channel, subject_ref, at, seq);
CREATE INDEX IF NOT EXISTS erasure_consent_changes_subject ON erasure_consent_changes (subject_ref);
CREATE INDEX IF NOT EXISTS erasure_consent_changes_customer ON erasure_consent_changes (customer_key, user_key);
CREATE INDEX IF NOT EXISTS erasure_consent_changes_email ON erasure_consent_changes (email);
CREATE INDEX IF NOT EXISTS erasure_consent_changes_wording ON erasure_consent_changes (wording_id);
CREATE TABLE IF NOT EXISTS erasure_data_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind TEXT    NOT NULL,
    key_type     TEXT,
    customer_key TEXT,
    user_key     TEXT,
    subject_ref  TEXT,
    fields       TEXT    NOT NULL,
    actor_kind   TEXT    NOT NULL,
    actor        TEXT,
    source       TEXT    NOT NULL,
    at           TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS erasure_data_changes_subject ON erasure_data_changes (subject_ref);
CREATE INDEX IF NOT EXISTS erasure_data_changes_customer ON erasure_data_changes (customer_key, user_key)
