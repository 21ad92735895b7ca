-- features: one row per cutoff (customer_id, as_of); every cutoff appears, with or without
-- purchases. Defaults for a customer without orders in the window: frequency = monetary =
-- avg_basket = spend_trend = shares = n_categories = clv_expected = 0, recency_days = the window
-- length (${window_days}), churn_risk = 1. Formulas (docs/features.md):
--   tenure_days         = days since signup_date or the first purchase ever, whichever is earlier
--   observed_days       = MAX(MIN(tenure_days, window), ${min_observed_days})
--   mean_gap_days       = observed_days / frequency
--   churn_risk          = 1 - P(alive), P(alive) = 1 / (1 + odds * EXP(recency_days / mean_gap_days)),
--                         odds = p / (1 - p), p = ${dropout} (chance of dropping out after an order;
--                         the BG/NBD P(alive) with fixed parameters; exponent capped at 50)
--   spend_trend         = (spend_recent - spend_previous) / (spend_recent + spend_previous), in [-1, 1]
--   clv_expected        = frequency / observed_days * ${clv_horizon_days} * avg_basket
--                         * ${margin_rate} * (1 - churn_risk)
WITH base AS (
    SELECT c.customer_id, c.as_of,
           COALESCE(r.frequency, 0) AS frequency,
           COALESCE(r.monetary, 0) AS monetary,
           COALESCE(r.discount_total, 0) AS discount_total,
           COALESCE(r.recency_days, ${window_days}) AS recency_days,
           COALESCE(r.spend_recent, 0) AS spend_recent,
           COALESCE(r.spend_previous, 0) AS spend_previous,
           COALESCE(r.discount_orders, 0) AS discount_orders,
           GREATEST(COALESCE(r.first_purchase_age_days, 0),
                    COALESCE(CASE WHEN c.signup_age_days > 0 THEN c.signup_age_days END, 0)) AS tenure_days,
           tc.top_category, tc.top_category_2, tc.top_category_3,
           COALESCE(tc.top_category_share, 0) AS top_category_share,
           COALESCE(tc.n_categories, 0) AS n_categories,
           tb.top_brand,
           COALESCE(tb.top_brand_share, 0) AS top_brand_share,
           COALESCE(tb.private_label_share, 0) AS private_label_share
    FROM cutoff_ages c
    LEFT JOIN rfm r ON r.customer_id = c.customer_id AND r.as_of = c.as_of
    LEFT JOIN top_categories tc ON tc.customer_id = c.customer_id AND tc.as_of = c.as_of
    LEFT JOIN top_brands tb ON tb.customer_id = c.customer_id AND tb.as_of = c.as_of
),
rates AS (
    SELECT b.*,
           GREATEST(LEAST(b.tenure_days, ${window_days}), ${min_observed_days}) AS observed_days
    FROM base b
),
gaps AS (
    SELECT r.*,
           CASE WHEN r.frequency > 0 THEN r.observed_days / r.frequency END AS mean_gap_days,
           CASE WHEN r.frequency > 0
                THEN 1 - 1 / (1 + ${dropout_odds}
                              * EXP(LEAST(r.recency_days * r.frequency / r.observed_days, 50)))
                ELSE 1 END AS churn_risk
    FROM rates r
)
SELECT customer_id, as_of,
       recency_days,
       CAST(frequency AS DOUBLE) AS frequency,
       monetary,
       CASE WHEN frequency > 0 THEN monetary / frequency ELSE 0 END AS avg_basket,
       spend_recent,
       spend_previous,
       CASE WHEN spend_recent + spend_previous > 0
            THEN (spend_recent - spend_previous) / (spend_recent + spend_previous) ELSE 0 END AS spend_trend,
       tenure_days,
       CASE WHEN monetary + discount_total > 0
            THEN discount_total / (monetary + discount_total) ELSE 0 END AS discount_share,
       CASE WHEN frequency > 0 THEN CAST(discount_orders AS DOUBLE) / frequency ELSE 0 END
           AS discount_order_share,
       private_label_share,
       top_brand,
       top_brand_share,
       top_category, top_category_2, top_category_3,
       top_category_share,
       CAST(n_categories AS DOUBLE) AS n_categories,
       mean_gap_days,
       churn_risk,
       CASE WHEN frequency > 0
            THEN CAST(frequency AS DOUBLE) / observed_days * ${clv_horizon_days} * (monetary / frequency)
                 * ${margin_rate} * (1 - churn_risk)
            ELSE 0 END AS clv_expected
FROM gaps
