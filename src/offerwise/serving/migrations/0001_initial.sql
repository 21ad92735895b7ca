-- offerwise offer service: initial schema.
-- Dialect-neutral SQL (SQLite >= 3.24 and PostgreSQL >= 12). Money is integer cents, times are
-- UNIX epoch seconds (DOUBLE PRECISION). CHECK constraints are the last line of defence of the
-- ledger: no code path can make spent exceed budget or a coupon exceed its uses.

CREATE TABLE campaigns (
    campaign_id       TEXT PRIMARY KEY,
    budget_cents      BIGINT NOT NULL,
    spent_cents       BIGINT NOT NULL DEFAULT 0,
    redemptions       BIGINT NOT NULL DEFAULT 0,
    plan_fingerprint  TEXT NOT NULL,
    summary_json      TEXT,
    active            INTEGER NOT NULL DEFAULT 0,
    created_ts        DOUBLE PRECISION NOT NULL,
    CHECK (spent_cents >= 0 AND spent_cents <= budget_cents),
    CHECK (redemptions >= 0)
);

CREATE TABLE offers (
    offer_id          TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    value             DOUBLE PRECISION NOT NULL,
    min_spend_cents   BIGINT NOT NULL DEFAULT 0,
    category          TEXT,
    starts_ts         DOUBLE PRECISION,
    ends_ts           DOUBLE PRECISION,
    members_only      INTEGER NOT NULL DEFAULT 0,
    updated_ts        DOUBLE PRECISION NOT NULL
);

CREATE TABLE assignments (
    campaign_id       TEXT NOT NULL REFERENCES campaigns (campaign_id),
    customer_id       TEXT NOT NULL,
    offer_id          TEXT NOT NULL,
    grp               TEXT NOT NULL,
    segment           TEXT,
    PRIMARY KEY (campaign_id, customer_id)
);

CREATE TABLE decisions (
    decision_id       TEXT PRIMARY KEY,
    campaign_id       TEXT NOT NULL REFERENCES campaigns (campaign_id),
    customer_id       TEXT NOT NULL,
    offer_id          TEXT NOT NULL,
    plan_offer_id     TEXT NOT NULL,
    grp               TEXT NOT NULL,
    propensity        DOUBLE PRECISION NOT NULL,
    explored          INTEGER NOT NULL DEFAULT 0,
    coupon_code       TEXT,
    ts                DOUBLE PRECISION NOT NULL,
    UNIQUE (campaign_id, customer_id),
    CHECK (propensity > 0 AND propensity <= 1)
);

CREATE TABLE coupons (
    code              TEXT PRIMARY KEY,
    campaign_id       TEXT NOT NULL REFERENCES campaigns (campaign_id),
    customer_id       TEXT NOT NULL,
    offer_id          TEXT NOT NULL,
    issued_ts         DOUBLE PRECISION NOT NULL,
    expires_ts        DOUBLE PRECISION NOT NULL,
    max_uses          INTEGER NOT NULL,
    uses              INTEGER NOT NULL DEFAULT 0,
    UNIQUE (campaign_id, customer_id),
    CHECK (uses >= 0 AND uses <= max_uses)
);

CREATE TABLE customer_usage (
    campaign_id       TEXT NOT NULL,
    customer_id       TEXT NOT NULL,
    uses              INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, customer_id),
    CHECK (uses >= 0)
);

CREATE TABLE idempotency_keys (
    api_key_id        TEXT NOT NULL,
    idem_key          TEXT NOT NULL,
    request_hash      TEXT NOT NULL,
    status_code       INTEGER,
    response_json     TEXT,
    created_ts        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (api_key_id, idem_key)
);

CREATE TABLE redemptions (
    redemption_id     TEXT PRIMARY KEY,
    coupon_code       TEXT NOT NULL REFERENCES coupons (code),
    campaign_id       TEXT NOT NULL REFERENCES campaigns (campaign_id),
    customer_id       TEXT NOT NULL,
    offer_id          TEXT NOT NULL,
    order_id          TEXT,
    discount_cents    BIGINT NOT NULL,
    status            TEXT NOT NULL,
    api_key_id        TEXT NOT NULL,
    idem_key          TEXT NOT NULL,
    redeemed_ts       DOUBLE PRECISION NOT NULL,
    rolled_back_ts    DOUBLE PRECISION,
    UNIQUE (api_key_id, idem_key),
    CHECK (discount_cents >= 0),
    CHECK (status IN ('redeemed', 'rolled_back'))
);

CREATE INDEX ix_redemptions_coupon ON redemptions (coupon_code, status);

CREATE TABLE events (
    order_id          TEXT PRIMARY KEY,
    customer_id       TEXT NOT NULL,
    ts                DOUBLE PRECISION NOT NULL,
    revenue_cents     BIGINT NOT NULL,
    discount_cents    BIGINT NOT NULL,
    coupon_code       TEXT,
    received_ts       DOUBLE PRECISION NOT NULL
);

CREATE INDEX ix_events_customer ON events (customer_id, ts);

CREATE TABLE api_keys (
    key_id            TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    salt              TEXT NOT NULL,
    key_hash          TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    rate_per_s        DOUBLE PRECISION,
    burst             INTEGER,
    created_ts        DOUBLE PRECISION NOT NULL,
    revoked_ts        DOUBLE PRECISION
);
