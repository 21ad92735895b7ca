-- Each plan customer's probability of being held out (the plan file's `holdout_probability`: the
-- stratified draw's share in the customer's segment). The service logs every decision's
-- propensity under the plan's whole design with it: a held-out customer's `none` gets
-- h + (1 - h) P(none | not held out), not 1, and a treated customer's offer (1 - h) times its
-- probability in the treatment group. NULL for plans written before the column existed
-- (held-out rows then log 1, as before).

ALTER TABLE assignments ADD COLUMN holdout_p DOUBLE PRECISION;
