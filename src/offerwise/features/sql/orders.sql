-- orders: one row per order before the cutoff (any age).
-- order_age_days = age of the order's last line, order_first_age_days = of its first line (the
-- order lies in the look-back window when order_age_days <= ${window_days});
-- has_discount = 1 when any line was discounted.
SELECT customer_id, as_of, order_id,
       SUM(amount) AS order_amount,
       SUM(discount) AS order_discount,
       MIN(age_days) AS order_age_days,
       MAX(age_days) AS order_first_age_days,
       MAX(CASE WHEN discount > 0 THEN 1 ELSE 0 END) AS has_discount
FROM lines
GROUP BY customer_id, as_of, order_id
