-- brands: spend per (customer, cutoff, brand) in the window; lines with an unknown brand are
-- left out.
SELECT customer_id, as_of, brand, SUM(amount) AS spend
FROM lines
WHERE in_window = 1 AND brand IS NOT NULL
GROUP BY customer_id, as_of, brand
