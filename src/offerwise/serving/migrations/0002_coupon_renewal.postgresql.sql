-- A customer may hold several coupons of one campaign over time: a coupon that expired unused is
-- kept (expired) and a fresh one is issued on the next GET offer; decisions.coupon_code names the
-- current one.

ALTER TABLE coupons DROP CONSTRAINT IF EXISTS coupons_campaign_id_customer_id_key;

CREATE INDEX ix_coupons_customer ON coupons (campaign_id, customer_id);
