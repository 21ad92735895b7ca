-- Coupon codes reserved at plan load: every plan customer gets one code (random, 60 bits) when
-- the plan is loaded, so the first GET offer answers from a read and records its decision and
-- coupon behind the response (write-behind); validate/redeem of a reserved code whose record has
-- not landed yet (or was lost to a crash) records it first. See docs/serving.md.

ALTER TABLE assignments ADD COLUMN coupon_code TEXT;

CREATE UNIQUE INDEX ux_assignments_coupon ON assignments (coupon_code);
