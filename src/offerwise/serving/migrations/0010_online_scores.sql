-- Online decisions (issue #16 item 1): a customer without a plan row who has orders the service
-- recorded (POST /v1/events) is scored by the campaign's model as the orders arrive; GET offer
-- reads the latest score in the same round trip as the plan row. `n_orders` is how many of the
-- customer's recorded orders the score saw (a new order makes it stale: the scorer scores again).
-- The campaign keeps the model directory it was loaded with, so that a swapped plan is scored by
-- its own model.

ALTER TABLE campaigns ADD COLUMN model_dir TEXT;
-- why a decision without a plan row was made: 'online' (from the score) or 'cold_start'
ALTER TABLE decisions ADD COLUMN reason TEXT;

CREATE TABLE online_scores (
    campaign_id       TEXT NOT NULL REFERENCES campaigns (campaign_id),
    customer_id       TEXT NOT NULL,
    offer_id          TEXT NOT NULL,
    eligible          TEXT,
    segment           TEXT,
    reason            TEXT,
    n_orders          BIGINT NOT NULL,
    scored_ts         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (campaign_id, customer_id)
);

CREATE INDEX ix_events_received ON events (received_ts);
