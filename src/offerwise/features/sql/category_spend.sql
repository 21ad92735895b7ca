-- category_spend: spend per (customer, cutoff, category) in the window; category NULL holds the
-- lines whose product or category is unknown (they count in the window's spend, not in a
-- category's).
SELECT customer_id, as_of, category, SUM(amount) AS spend
FROM lines
WHERE in_window = 1
GROUP BY customer_id, as_of, category
