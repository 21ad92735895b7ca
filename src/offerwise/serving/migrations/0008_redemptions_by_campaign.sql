-- The operator console's figures (`GET /v1/campaigns/{id}/stats`: burn over time, redemptions by
-- offer and segment) read a campaign's redemptions in time order: index them by campaign.

CREATE INDEX ix_redemptions_campaign ON redemptions (campaign_id, redeemed_ts);
