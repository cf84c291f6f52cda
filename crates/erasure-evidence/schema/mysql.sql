CREATE TABLE IF NOT EXISTS erasure_receipts (
    run_id       VARCHAR(36)  NOT NULL PRIMARY KEY,
    recorded_at  DATETIME(6)  NOT NULL,
    subject      VARCHAR(64)  NOT NULL,
    subject_kind VARCHAR(16)  NOT NULL,
    reason       VARCHAR(32)  NOT NULL,
    operator     VARCHAR(255),
    deleted      BIGINT       NOT NULL,
    anonymized   BIGINT       NOT NULL,
    deferred     BIGINT       NOT NULL,
    retained     BIGINT       NOT NULL,
    body         LONGTEXT     NOT NULL,
    KEY erasure_receipts_subject (subject),
    KEY erasure_receipts_recorded (recorded_at)
) ENGINE = InnoDB;
CREATE TABLE IF NOT EXISTS erasure_outbox (
    id              VARCHAR(36)  NOT NULL PRIMARY KEY,
    run_id          VARCHAR(36)  NOT NULL,
    destination     VARCHAR(128) NOT NULL,
    position        BIGINT,
    handler         VARCHAR(255),
    created_at      DATETIME(6)  NOT NULL,
    state           VARCHAR(16)  NOT NULL,
    attempts        BIGINT       NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6)  NOT NULL,
    claim           VARCHAR(36),
    locked_until    DATETIME(6),
    delivered_at    DATETIME(6),
    last_error      TEXT,
    payload         LONGTEXT,
    KEY erasure_outbox_due (state, next_attempt_at),
    KEY erasure_outbox_run (run_id)
) ENGINE = InnoDB;
CREATE TABLE IF NOT EXISTS erasure_suppressions (
    hash       VARCHAR(64)  NOT NULL PRIMARY KEY,
    kind       VARCHAR(32)  NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    run_id     VARCHAR(36)  NOT NULL
) ENGINE = InnoDB
