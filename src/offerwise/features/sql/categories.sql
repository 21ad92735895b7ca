-- categories: spend per (customer, cutoff, category) in the window, ranked by spend
-- (ties, to 6 decimals so that the order of floating-point sums cannot flip them, broken by
-- category name). Lines whose product or category is unknown are left out.
SELECT customer_id, as_of, category, spend,
       ROW_NUMBER() OVER (PARTITION BY customer_id, as_of ORDER BY ROUND(spend, 6) DESC, category) AS rank_no
FROM (
    SELECT customer_id, as_of, category, SUM(amount) AS spend
    FROM lines
    WHERE in_window = 1 AND category IS NOT NULL
    GROUP BY customer_id, as_of, category
) s
