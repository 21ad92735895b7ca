-- rfm: recency, frequency, monetary and spend trend per (customer, cutoff) over the orders in
-- the window (order_age_days <= ${window_days}), and the age of the first purchase ever (any
-- age, for tenure). One pass over the orders; a cutoff whose orders all lie before the window
-- has frequency 0 and NULL recency, as one without orders (the features step fills defaults).
-- The sums are exact (decimal amounts, see lines), then doubles.
--   frequency               = number of orders
--   monetary                = SUM(amount)                 (paid, net of discounts)
--   recency_days            = MIN(order_age_days)
--   spend_recent            = spend in the last ${trend_days} days
--   spend_previous          = spend in the ${trend_days} days before those
--   discount_orders         = orders with any discounted line
--   first_purchase_age_days = MAX(order_first_age_days)    (every order)
SELECT customer_id, as_of,
       COUNT(CASE WHEN order_age_days <= ${window_days} THEN 1 END) AS frequency,
       CAST(SUM(CASE WHEN order_age_days <= ${window_days} THEN order_amount END) AS DOUBLE)
           AS monetary,
       CAST(SUM(CASE WHEN order_age_days <= ${window_days} THEN order_discount END) AS DOUBLE)
           AS discount_total,
       MIN(CASE WHEN order_age_days <= ${window_days} THEN order_age_days END) AS recency_days,
       CAST(SUM(CASE WHEN order_age_days <= ${window_days} AND order_age_days <= ${trend_days}
                     THEN order_amount ELSE 0 END) AS DOUBLE) AS spend_recent,
       CAST(SUM(CASE WHEN order_age_days <= ${window_days} AND order_age_days > ${trend_days}
                          AND order_age_days <= 2 * ${trend_days}
                     THEN order_amount ELSE 0 END) AS DOUBLE) AS spend_previous,
       COUNT(CASE WHEN order_age_days <= ${window_days} AND has_discount = 1 THEN 1 END)
           AS discount_orders,
       MAX(order_first_age_days) AS first_purchase_age_days
FROM orders
GROUP BY customer_id, as_of
