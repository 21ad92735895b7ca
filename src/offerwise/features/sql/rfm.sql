-- rfm: recency, frequency, monetary and spend trend per (customer, cutoff), window only.
--   frequency          = number of orders
--   monetary           = SUM(amount)                      (paid, net of discounts)
--   recency_days       = MIN(order_age_days)
--   window_first_age   = MAX(order_age_days)              (age of the first order in the window)
--   spend_recent       = spend in the last ${trend_days} days
--   spend_previous     = spend in the ${trend_days} days before those
--   discount_orders    = orders with any discounted line
SELECT customer_id, as_of,
       COUNT(*) AS frequency,
       SUM(order_amount) AS monetary,
       SUM(order_discount) AS discount_total,
       MIN(order_age_days) AS recency_days,
       MAX(order_age_days) AS window_first_age_days,
       SUM(CASE WHEN order_age_days <= ${trend_days} THEN order_amount ELSE 0 END) AS spend_recent,
       SUM(CASE WHEN order_age_days > ${trend_days} AND order_age_days <= 2 * ${trend_days}
                THEN order_amount ELSE 0 END) AS spend_previous,
       SUM(has_discount) AS discount_orders
FROM orders
WHERE in_window = 1
GROUP BY customer_id, as_of
