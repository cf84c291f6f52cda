CREATE TABLE IF NOT EXISTS erasure_consent_wordings (
    id        VARCHAR(32)  NOT NULL PRIMARY KEY,
    purpose   VARCHAR(64)  NOT NULL,
    version   VARCHAR(64)  NOT NULL,
    language  VARCHAR(35)  NOT NULL,
    name      VARCHAR(200) NOT NULL,
    text      TEXT         NOT NULL,
    stored_at DATETIME(6)  NOT NULL
) ENGINE = InnoDB;
CREATE TABLE IF NOT EXISTS erasure_consent_changes (
    seq          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    subject_kind VARCHAR(16)  NOT NULL,
    key_type     VARCHAR(8),
    customer_key VARCHAR(320),
    user_key     VARCHAR(320),
    email        VARCHAR(320),
    subject_ref  VARCHAR(64),
    purpose      VARCHAR(64)  NOT NULL,
    channel      VARCHAR(16),
    given        BOOLEAN      NOT NULL,
    wording_id   VARCHAR(32)  NOT NULL,
    source       VARCHAR(16)  NOT NULL,
    at           DATETIME(6)  NOT NULL,
    KEY erasure_consent_changes_current (purpose, channel, subject_ref, at, seq),
    KEY erasure_consent_changes_subject (subject_ref),
    KEY erasure_consent_changes_customer (customer_key, user_key),
    KEY erasure_consent_changes_email (email),
    KEY erasure_consent_changes_wording (wording_id)
) ENGINE = InnoDB;
CREATE TABLE IF NOT EXISTS erasure_data_changes (
    seq          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    subject_kind VARCHAR(16)  NOT NULL,
    key_type     VARCHAR(8),
    customer_key VARCHAR(320),
    user_key     VARCHAR(320),
    subject_ref  VARCHAR(64),
    fields       TEXT         NOT NULL,
    actor_kind   VARCHAR(16)  NOT NULL,
    actor        VARCHAR(64),
    source       VARCHAR(16)  NOT NULL,
    at           DATETIME(6)  NOT NULL,
    KEY erasure_data_changes_subject (subject_ref),
    KEY erasure_data_changes_customer (customer_key, user_key)
) ENGINE = InnoDB
