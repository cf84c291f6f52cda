-- The shop of the walkthrough in docs/mapping.md: a small shop whose schema is not the
-- reference schema. crates/erasure-cli/tests/walkthrough.rs runs every step of the walkthrough
-- on it.
CREATE TABLE accounts (account_id INTEGER PRIMARY KEY, email TEXT NOT NULL, full_name TEXT,
    phone TEXT, created_at TEXT NOT NULL);
CREATE TABLE logins (login_id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (account_id), email TEXT NOT NULL,
    password_hash TEXT NOT NULL, last_login_at TEXT);
CREATE TABLE account_addresses (address_id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (account_id),
    login_id INTEGER REFERENCES logins (login_id), street TEXT, city TEXT, postcode TEXT);
CREATE TABLE sales (sale_id INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES accounts (account_id), buyer_email TEXT NOT NULL,
    buyer_name TEXT, buyer_ip TEXT, status TEXT NOT NULL, ordered_at TEXT NOT NULL,
    total_cents INTEGER NOT NULL);
CREATE TABLE sale_addresses (sale_address_id INTEGER PRIMARY KEY,
    sale_id INTEGER NOT NULL REFERENCES sales (sale_id), address_type TEXT NOT NULL, name TEXT,
    street TEXT, city TEXT);
CREATE TABLE newsletter (id INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES accounts (account_id), email TEXT NOT NULL,
    status TEXT NOT NULL);
CREATE TABLE product_reviews (review_id INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES accounts (account_id), product_id INTEGER NOT NULL,
    nickname TEXT, body TEXT, ip_address TEXT);
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL);

INSERT INTO products VALUES (1, 'Kettle'), (2, 'Teapot');
INSERT INTO accounts VALUES
    (1, 'ada@example.org', 'Ada Byron', '+44 20 7946 0001', '2024-01-02'),
    (2, 'alan@example.org', 'Alan Turing', '+44 20 7946 0002', '2024-02-03');
INSERT INTO logins VALUES
    (11, 1, 'ada@example.org', 'x', '2026-11-01'),
    (12, 2, 'alan@example.org', 'y', '2026-10-01');
INSERT INTO account_addresses VALUES
    (21, 1, 11, '12 St James Sq', 'London', 'SW1Y 4JH'),
    (22, 2, 12, '1 Bletchley Rd', 'Milton Keynes', 'MK3 6EB');
INSERT INTO sales VALUES
    (31, 1, 'ada@example.org', 'Ada Byron', '203.0.113.7', 'shipped', '2025-03-01', 4200),
    (32, 2, 'alan@example.org', 'Alan Turing', '198.51.100.9', 'shipped', '2025-04-01', 1300),
    (33, NULL, 'grace@example.net', 'Grace Hopper', '192.0.2.44', 'shipped', '2025-05-01', 990);
INSERT INTO sale_addresses VALUES
    (41, 31, 'billing', 'Ada Byron', '12 St James Sq', 'London'),
    (42, 32, 'billing', 'Alan Turing', '1 Bletchley Rd', 'Milton Keynes'),
    (43, 33, 'shipping', 'Grace Hopper', '1 Navy Yard', 'Arlington');
INSERT INTO newsletter VALUES
    (51, 1, 'ada@example.org', 'subscribed'),
    (52, NULL, 'grace@example.net', 'subscribed');
INSERT INTO product_reviews VALUES
    (61, 1, 1, 'ada', 'Boils fast.', '203.0.113.7'),
    (62, 2, 2, 'alan', 'Pours well.', '198.51.100.9');
