-- The erasure reference commerce schema (MySQL 8 / MariaDB 10.6+).
--
-- No foreign key cascades on purpose: a table that refers to a customer or user and is not
-- covered by a handler makes the final DELETE of the customer fail, so the erasure rolls back
-- instead of leaving orphans behind. Every column a handler selects the subject by is indexed.
-- Foreign keys are declared at table level: MySQL ignores column-level REFERENCES.
-- Text columns use the database's default collation, which compares case-insensitively.

CREATE TABLE customers (
    id             BIGINT       NOT NULL PRIMARY KEY,
    customer_no    VARCHAR(32)  NOT NULL UNIQUE,
    kind           VARCHAR(16)  NOT NULL DEFAULT 'PRIVATE' CHECK (kind IN ('PRIVATE', 'B2B')),
    company_name   VARCHAR(255),
    vat_id         VARCHAR(32),
    active         BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at     DATETIME(6)  NOT NULL,
    deactivated_at DATETIME(6)
) ENGINE = InnoDB;

CREATE TABLE users (
    id            BIGINT       NOT NULL PRIMARY KEY,
    customer_id   BIGINT       NOT NULL,
    email         VARCHAR(320) NOT NULL UNIQUE,
    first_name    VARCHAR(255),
    last_name     VARCHAR(255),
    phone         VARCHAR(64),
    birthday      DATE,
    active        BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at    DATETIME(6)  NOT NULL,
    last_login_at DATETIME(6),
    KEY users_customer_id (customer_id),
    FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE = InnoDB;

CREATE TABLE addresses (
    id          BIGINT       NOT NULL PRIMARY KEY,
    customer_id BIGINT       NOT NULL,
    user_id     BIGINT,
    first_name  VARCHAR(255),
    last_name   VARCHAR(255),
    company     VARCHAR(255),
    street      VARCHAR(255),
    city        VARCHAR(255),
    postcode    VARCHAR(32),
    country     VARCHAR(2),
    phone       VARCHAR(64),
    KEY addresses_customer_id (customer_id),
    KEY addresses_user_id (user_id),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE b2b_roles (
    id          BIGINT      NOT NULL PRIMARY KEY,
    customer_id BIGINT      NOT NULL,
    user_id     BIGINT      NOT NULL,
    role        VARCHAR(32) NOT NULL CHECK (role IN ('ACCOUNT_ADMIN', 'BUYER', 'APPROVER')),
    UNIQUE KEY b2b_roles_user_role (user_id, role),
    KEY b2b_roles_customer_id (customer_id, role),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE baskets (
    id             BIGINT      NOT NULL PRIMARY KEY,
    customer_id    BIGINT,
    user_id        BIGINT,
    status         VARCHAR(16) NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'ORDERED', 'INVALID')),
    created_at     DATETIME(6) NOT NULL,
    updated_at     DATETIME(6) NOT NULL,
    invalidated_at DATETIME(6),
    KEY baskets_customer_id (customer_id),
    KEY baskets_user_id (user_id),
    KEY baskets_status (status, id),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE basket_items (
    id               BIGINT      NOT NULL PRIMARY KEY,
    basket_id        BIGINT      NOT NULL,
    sku              VARCHAR(64) NOT NULL,
    quantity         BIGINT      NOT NULL,
    unit_price_cents BIGINT      NOT NULL,
    KEY basket_items_basket_id (basket_id),
    FOREIGN KEY (basket_id) REFERENCES baskets (id)
) ENGINE = InnoDB;

CREATE TABLE wishlists (
    id          BIGINT       NOT NULL PRIMARY KEY,
    customer_id BIGINT,
    user_id     BIGINT,
    name        VARCHAR(255) NOT NULL,
    is_public   BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at  DATETIME(6)  NOT NULL,
    KEY wishlists_customer_id (customer_id),
    KEY wishlists_user_id (user_id),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE wishlist_items (
    id          BIGINT       NOT NULL PRIMARY KEY,
    wishlist_id BIGINT       NOT NULL,
    sku         VARCHAR(64)  NOT NULL,
    note        VARCHAR(255),
    added_at    DATETIME(6)  NOT NULL,
    KEY wishlist_items_wishlist_id (wishlist_id),
    FOREIGN KEY (wishlist_id) REFERENCES wishlists (id)
) ENGINE = InnoDB;

CREATE TABLE orders (
    id            BIGINT       NOT NULL PRIMARY KEY,
    order_no      VARCHAR(32)  NOT NULL UNIQUE,
    customer_id   BIGINT,
    user_id       BIGINT,
    email         VARCHAR(320),
    phone         VARCHAR(64),
    ip_address    VARCHAR(64),
    notes         TEXT,
    status        VARCHAR(32)  NOT NULL,
    currency      VARCHAR(3)   NOT NULL,
    total_cents   BIGINT       NOT NULL,
    ordered_at    DATETIME(6)  NOT NULL,
    to_be_deleted BOOLEAN      NOT NULL DEFAULT FALSE,
    anonymized_at DATETIME(6),
    KEY orders_customer_id (customer_id),
    KEY orders_user_id (user_id),
    KEY orders_email (email),
    KEY orders_to_be_deleted (to_be_deleted, id),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE order_lines (
    id               BIGINT       NOT NULL PRIMARY KEY,
    order_id         BIGINT       NOT NULL,
    sku              VARCHAR(64)  NOT NULL,
    product_name     VARCHAR(255) NOT NULL,
    quantity         BIGINT       NOT NULL,
    unit_price_cents BIGINT       NOT NULL,
    KEY order_lines_order_id (order_id),
    FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE = InnoDB;

CREATE TABLE order_addresses (
    id         BIGINT       NOT NULL PRIMARY KEY,
    order_id   BIGINT       NOT NULL,
    kind       VARCHAR(16)  NOT NULL CHECK (kind IN ('BILLING', 'SHIPPING')),
    first_name VARCHAR(255),
    last_name  VARCHAR(255),
    company    VARCHAR(255),
    street     VARCHAR(255),
    city       VARCHAR(255),
    postcode   VARCHAR(32),
    country    VARCHAR(2),
    phone      VARCHAR(64),
    email      VARCHAR(320),
    KEY order_addresses_order_id (order_id),
    FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE = InnoDB;

CREATE TABLE recurring_orders (
    id                  BIGINT      NOT NULL PRIMARY KEY,
    customer_id         BIGINT,
    user_id             BIGINT,
    shipping_address_id BIGINT,
    status              VARCHAR(16) NOT NULL CHECK (status IN ('ACTIVE', 'PAUSED', 'CANCELLED')),
    interval_days       BIGINT      NOT NULL,
    next_run_at         DATETIME(6),
    created_at          DATETIME(6) NOT NULL,
    KEY recurring_orders_customer_id (customer_id),
    KEY recurring_orders_user_id (user_id),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id),
    FOREIGN KEY (shipping_address_id) REFERENCES addresses (id)
) ENGINE = InnoDB;

CREATE TABLE recurring_order_lines (
    id                 BIGINT      NOT NULL PRIMARY KEY,
    recurring_order_id BIGINT      NOT NULL,
    sku                VARCHAR(64) NOT NULL,
    quantity           BIGINT      NOT NULL,
    KEY recurring_order_lines_recurring_order_id (recurring_order_id),
    FOREIGN KEY (recurring_order_id) REFERENCES recurring_orders (id)
) ENGINE = InnoDB;

CREATE TABLE promotion_codes (
    id               BIGINT       NOT NULL PRIMARY KEY,
    code             VARCHAR(64)  NOT NULL UNIQUE,
    customer_id      BIGINT,
    user_id          BIGINT,
    name             VARCHAR(255),
    email            VARCHAR(320),
    discount_percent BIGINT       NOT NULL,
    valid_until      DATETIME(6),
    created_at       DATETIME(6)  NOT NULL,
    KEY promotion_codes_customer_id (customer_id),
    KEY promotion_codes_user_id (user_id),
    KEY promotion_codes_email (email),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE promotion_code_usages (
    id                BIGINT       NOT NULL PRIMARY KEY,
    promotion_code_id BIGINT       NOT NULL,
    order_id          BIGINT,
    customer_id       BIGINT,
    user_id           BIGINT,
    name              VARCHAR(255),
    email             VARCHAR(320),
    used_at           DATETIME(6)  NOT NULL,
    KEY promotion_code_usages_customer_id (customer_id),
    KEY promotion_code_usages_user_id (user_id),
    KEY promotion_code_usages_email (email),
    FOREIGN KEY (promotion_code_id) REFERENCES promotion_codes (id),
    FOREIGN KEY (order_id) REFERENCES orders (id),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE gift_cards (
    id            BIGINT       NOT NULL PRIMARY KEY,
    code          VARCHAR(64)  NOT NULL UNIQUE,
    customer_id   BIGINT,
    user_id       BIGINT,
    holder_name   VARCHAR(255),
    holder_email  VARCHAR(320),
    balance_cents BIGINT       NOT NULL,
    currency      VARCHAR(3)   NOT NULL,
    created_at    DATETIME(6)  NOT NULL,
    KEY gift_cards_customer_id (customer_id),
    KEY gift_cards_user_id (user_id),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE cashbacks (
    id             BIGINT       NOT NULL PRIMARY KEY,
    customer_id    BIGINT,
    user_id        BIGINT,
    amount_cents   BIGINT       NOT NULL,
    currency       VARCHAR(3)   NOT NULL,
    status         VARCHAR(16)  NOT NULL CHECK (status IN ('OPEN', 'REDEEMED')),
    account_holder VARCHAR(255),
    iban           VARCHAR(34),
    created_at     DATETIME(6)  NOT NULL,
    redeemed_at    DATETIME(6),
    KEY cashbacks_customer_id (customer_id),
    KEY cashbacks_user_id (user_id),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;

CREATE TABLE cashback_codes (
    id          BIGINT       NOT NULL PRIMARY KEY,
    cashback_id BIGINT       NOT NULL,
    code        VARCHAR(64)  NOT NULL UNIQUE,
    email       VARCHAR(320),
    redeemed_at DATETIME(6),
    KEY cashback_codes_cashback_id (cashback_id),
    FOREIGN KEY (cashback_id) REFERENCES cashbacks (id)
) ENGINE = InnoDB;

CREATE TABLE alerts (
    id                 BIGINT       NOT NULL PRIMARY KEY,
    customer_id        BIGINT,
    user_id            BIGINT,
    email              VARCHAR(320),
    kind               VARCHAR(16)  NOT NULL CHECK (kind IN ('BACK_IN_STOCK', 'PRICE')),
    sku                VARCHAR(64)  NOT NULL,
    target_price_cents BIGINT,
    created_at         DATETIME(6)  NOT NULL,
    KEY alerts_customer_id (customer_id),
    KEY alerts_user_id (user_id),
    KEY alerts_email (email),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
) ENGINE = InnoDB;
