-- history: age of the first purchase ever before the cutoff (for tenure), any age.
SELECT customer_id, as_of, MAX(order_first_age_days) AS first_purchase_age_days
FROM orders
GROUP BY customer_id, as_of
