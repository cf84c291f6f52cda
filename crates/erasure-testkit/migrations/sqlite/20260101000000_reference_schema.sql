-- The erasure reference commerce schema (SQLite).
--
-- No foreign key cascades on purpose: a table that refers to a customer or user and is not
-- covered by a handler makes the final DELETE of the customer fail, so the erasure rolls back
-- instead of leaving orphans behind. Every column a handler selects the subject by is indexed.
-- Timestamps are TEXT as written by sqlx's chrono encoding; booleans are INTEGER 0/1.
-- Email columns compare case-insensitively (COLLATE NOCASE), as on MySQL.

CREATE TABLE customers (
    id            INTEGER PRIMARY KEY,
    customer_no   TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL DEFAULT 'PRIVATE' CHECK (kind IN ('PRIVATE', 'B2B')),
    company_name  TEXT,
    vat_id        TEXT,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT    NOT NULL,
    deactivated_at TEXT
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    customer_id   INTEGER NOT NULL REFERENCES customers (id),
    email         TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    first_name    TEXT,
    last_name     TEXT,
    phone         TEXT,
    birthday      TEXT,  -- a DATE, stored as ISO text
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT    NOT NULL,
    last_login_at TEXT
);
CREATE INDEX users_customer_id ON users (customer_id);

CREATE TABLE addresses (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    user_id     INTEGER REFERENCES users (id),
    first_name  TEXT,
    last_name   TEXT,
    company     TEXT,
    street      TEXT,
    city        TEXT,
    postcode    TEXT,
    country     TEXT,
    phone       TEXT
);
CREATE INDEX addresses_customer_id ON addresses (customer_id);
CREATE INDEX addresses_user_id ON addresses (user_id);

CREATE TABLE b2b_roles (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    user_id     INTEGER NOT NULL REFERENCES users (id),
    role        TEXT    NOT NULL CHECK (role IN ('ACCOUNT_ADMIN', 'BUYER', 'APPROVER')),
    UNIQUE (user_id, role)
);
CREATE INDEX b2b_roles_customer_id ON b2b_roles (customer_id, role);

CREATE TABLE baskets (
    id             INTEGER PRIMARY KEY,
    customer_id    INTEGER REFERENCES customers (id),
    user_id        INTEGER REFERENCES users (id),
    status         TEXT    NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'ORDERED', 'INVALID')),
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    invalidated_at TEXT
);
CREATE INDEX baskets_customer_id ON baskets (customer_id);
CREATE INDEX baskets_user_id ON baskets (user_id);
CREATE INDEX baskets_status ON baskets (status, id);

CREATE TABLE basket_items (
    id               INTEGER PRIMARY KEY,
    basket_id        INTEGER NOT NULL REFERENCES baskets (id),
    sku              TEXT    NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL
);
CREATE INDEX basket_items_basket_id ON basket_items (basket_id);

CREATE TABLE wishlists (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers (id),
    user_id     INTEGER REFERENCES users (id),
    name        TEXT    NOT NULL,
    is_public   INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL
);
CREATE INDEX wishlists_customer_id ON wishlists (customer_id);
CREATE INDEX wishlists_user_id ON wishlists (user_id);

CREATE TABLE wishlist_items (
    id          INTEGER PRIMARY KEY,
    wishlist_id INTEGER NOT NULL REFERENCES wishlists (id),
    sku         TEXT    NOT NULL,
    note        TEXT,
    added_at    TEXT    NOT NULL
);
CREATE INDEX wishlist_items_wishlist_id ON wishlist_items (wishlist_id);

CREATE TABLE orders (
    id            INTEGER PRIMARY KEY,
    order_no      TEXT    NOT NULL UNIQUE,
    customer_id   INTEGER REFERENCES customers (id),
    user_id       INTEGER REFERENCES users (id),
    email         TEXT    COLLATE NOCASE,
    phone         TEXT,
    ip_address    TEXT,
    notes         TEXT,
    status        TEXT    NOT NULL,
    currency      TEXT    NOT NULL,
    total_cents   INTEGER NOT NULL,
    ordered_at    TEXT    NOT NULL,
    to_be_deleted INTEGER NOT NULL DEFAULT 0,
    anonymized_at TEXT
);
CREATE INDEX orders_customer_id ON orders (customer_id);
CREATE INDEX orders_user_id ON orders (user_id);
CREATE INDEX orders_email ON orders (email);
CREATE INDEX orders_to_be_deleted ON orders (to_be_deleted, id);

CREATE TABLE order_lines (
    id               INTEGER PRIMARY KEY,
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    sku              TEXT    NOT NULL,
    product_name     TEXT    NOT NULL,
    quantity         INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL
);
CREATE INDEX order_lines_order_id ON order_lines (order_id);

CREATE TABLE order_addresses (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders (id),
    kind       TEXT    NOT NULL CHECK (kind IN ('BILLING', 'SHIPPING')),
    first_name TEXT,
    last_name  TEXT,
    company    TEXT,
    street     TEXT,
    city       TEXT,
    postcode   TEXT,
    country    TEXT,
    phone      TEXT,
    email      TEXT
);
CREATE INDEX order_addresses_order_id ON order_addresses (order_id);

CREATE TABLE recurring_orders (
    id                  INTEGER PRIMARY KEY,
    customer_id         INTEGER REFERENCES customers (id),
    user_id             INTEGER REFERENCES users (id),
    shipping_address_id INTEGER REFERENCES addresses (id),
    status              TEXT    NOT NULL CHECK (status IN ('ACTIVE', 'PAUSED', 'CANCELLED')),
    interval_days       INTEGER NOT NULL,
    next_run_at         TEXT,
    created_at          TEXT    NOT NULL
);
CREATE INDEX recurring_orders_customer_id ON recurring_orders (customer_id);
CREATE INDEX recurring_orders_user_id ON recurring_orders (user_id);
-- The foreign-key check when an address is deleted looks here.
CREATE INDEX recurring_orders_shipping_address_id ON recurring_orders (shipping_address_id);

CREATE TABLE recurring_order_lines (
    id                 INTEGER PRIMARY KEY,
    recurring_order_id INTEGER NOT NULL REFERENCES recurring_orders (id),
    sku                TEXT    NOT NULL,
    quantity           INTEGER NOT NULL
);
CREATE INDEX recurring_order_lines_recurring_order_id ON recurring_order_lines (recurring_order_id);

CREATE TABLE promotion_codes (
    id               INTEGER PRIMARY KEY,
    code             TEXT    NOT NULL UNIQUE,
    customer_id      INTEGER REFERENCES customers (id),
    user_id          INTEGER REFERENCES users (id),
    name             TEXT,
    email            TEXT    COLLATE NOCASE,
    discount_percent INTEGER NOT NULL,
    valid_until      TEXT,
    created_at       TEXT    NOT NULL
);
CREATE INDEX promotion_codes_customer_id ON promotion_codes (customer_id);
CREATE INDEX promotion_codes_user_id ON promotion_codes (user_id);
CREATE INDEX promotion_codes_email ON promotion_codes (email);

CREATE TABLE promotion_code_usages (
    id                INTEGER PRIMARY KEY,
    promotion_code_id INTEGER NOT NULL REFERENCES promotion_codes (id),
    order_id          INTEGER REFERENCES orders (id),
    customer_id       INTEGER REFERENCES customers (id),
    user_id           INTEGER REFERENCES users (id),
    name              TEXT,
    email             TEXT    COLLATE NOCASE,
    used_at           TEXT    NOT NULL
);
CREATE INDEX promotion_code_usages_customer_id ON promotion_code_usages (customer_id);
CREATE INDEX promotion_code_usages_user_id ON promotion_code_usages (user_id);
CREATE INDEX promotion_code_usages_email ON promotion_code_usages (email);
-- The order purge detaches usages from purged orders.
CREATE INDEX promotion_code_usages_order_id ON promotion_code_usages (order_id);

CREATE TABLE gift_cards (
    id            INTEGER PRIMARY KEY,
    code          TEXT    NOT NULL UNIQUE,
    customer_id   INTEGER REFERENCES customers (id),
    user_id       INTEGER REFERENCES users (id),
    holder_name   TEXT,
    holder_email  TEXT,
    balance_cents INTEGER NOT NULL,
    currency      TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);
CREATE INDEX gift_cards_customer_id ON gift_cards (customer_id);
CREATE INDEX gift_cards_user_id ON gift_cards (user_id);

CREATE TABLE cashbacks (
    id             INTEGER PRIMARY KEY,
    customer_id    INTEGER REFERENCES customers (id),
    user_id        INTEGER REFERENCES users (id),
    amount_cents   INTEGER NOT NULL,
    currency       TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('OPEN', 'REDEEMED')),
    account_holder TEXT,
    iban           TEXT,
    created_at     TEXT    NOT NULL,
    redeemed_at    TEXT
);
CREATE INDEX cashbacks_customer_id ON cashbacks (customer_id);
CREATE INDEX cashbacks_user_id ON cashbacks (user_id);

CREATE TABLE cashback_codes (
    id          INTEGER PRIMARY KEY,
    cashback_id INTEGER NOT NULL REFERENCES cashbacks (id),
    code        TEXT    NOT NULL UNIQUE,
    email       TEXT,
    redeemed_at TEXT
);
CREATE INDEX cashback_codes_cashback_id ON cashback_codes (cashback_id);

CREATE TABLE alerts (
    id                 INTEGER PRIMARY KEY,
    customer_id        INTEGER REFERENCES customers (id),
    user_id            INTEGER REFERENCES users (id),
    email              TEXT    COLLATE NOCASE,
    kind               TEXT    NOT NULL CHECK (kind IN ('BACK_IN_STOCK', 'PRICE')),
    sku                TEXT    NOT NULL,
    target_price_cents INTEGER,
    created_at         TEXT    NOT NULL
);
CREATE INDEX alerts_customer_id ON alerts (customer_id);
CREATE INDEX alerts_user_id ON alerts (user_id);
CREATE INDEX alerts_email ON alerts (email);
