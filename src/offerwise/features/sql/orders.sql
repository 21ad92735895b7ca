-- orders: one row per order before the cutoff (any age).
-- order_age_days = age of the order's last line, order_first_age_days = of its first line;
-- in_window = 1 when the order's last line lies in the look-back window;
-- has_discount = 1 when any line was discounted.
SELECT customer_id, as_of, order_id,
       SUM(amount) AS order_amount,
       SUM(discount) AS order_discount,
       MIN(age_days) AS order_age_days,
       MAX(age_days) AS order_first_age_days,
       MAX(in_window) AS in_window,
       MAX(CASE WHEN discount > 0 THEN 1 ELSE 0 END) AS has_discount
FROM lines
GROUP BY customer_id, as_of, order_id
