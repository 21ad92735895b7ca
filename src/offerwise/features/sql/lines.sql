-- lines: one row per (cutoff, transaction line) strictly before the cutoff.
-- Point in time: only t.ts < c.as_of is ever read. Lines with quantity = 0 AND amount = 0 carry
-- nothing and are ignored. age_days = (as_of - ts) in days (> 0). DAYS_BETWEEN is expanded by
-- the engine into the dialect's expression (offerwise.features.engine.DIALECTS).
-- in_window = 1 when the line lies in the look-back window: age_days <= ${window_days}.
-- amount and discount are exact decimals (${exact}): their sums do not depend on the order a
-- parallel aggregation adds them in (sums of doubles do: a customer's spend trend came out 0 in
-- one run and 8e-17 in the next, and a tree's split at 0 scored the customer differently).
SELECT c.customer_id,
       c.as_of,
       t.order_id,
       CAST(t.amount AS ${exact}) AS amount,
       CAST(t.discount AS ${exact}) AS discount,
       p.category,
       p.brand,
       DAYS_BETWEEN(t.ts, c.as_of) AS age_days,
       CASE WHEN DAYS_BETWEEN(t.ts, c.as_of) <= ${window_days} THEN 1 ELSE 0 END AS in_window
FROM cutoff_ages c
JOIN ow_transactions t ON t.customer_id = c.customer_id
LEFT JOIN ow_products p ON p.product_id = t.product_id
WHERE t.ts < c.as_of
  AND NOT (t.quantity = 0 AND t.amount = 0)
