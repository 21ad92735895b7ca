-- A customer may hold several coupons of one campaign over time: a coupon that expired unused is
-- kept (expired) and a fresh one is issued on the next GET offer; decisions.coupon_code names the
-- current one. SQLite cannot drop a UNIQUE constraint, so the table is rebuilt (the migration runs
-- with foreign_keys=OFF and checks them before its commit).

CREATE TABLE coupons_new (
    code              TEXT PRIMARY KEY,
    campaign_id       TEXT NOT NULL REFERENCES campaigns (campaign_id),
    customer_id       TEXT NOT NULL,
    offer_id          TEXT NOT NULL,
    issued_ts         DOUBLE PRECISION NOT NULL,
    expires_ts        DOUBLE PRECISION NOT NULL,
    max_uses          INTEGER NOT NULL,
    uses              INTEGER NOT NULL DEFAULT 0,
    CHECK (uses >= 0 AND uses <= max_uses)
);

INSERT INTO coupons_new (code, campaign_id, customer_id, offer_id, issued_ts, expires_ts, max_uses, uses)
SELECT code, campaign_id, customer_id, offer_id, issued_ts, expires_ts, max_uses, uses FROM coupons;

DROP TABLE coupons;

ALTER TABLE coupons_new RENAME TO coupons;

CREATE INDEX ix_coupons_customer ON coupons (campaign_id, customer_id);
