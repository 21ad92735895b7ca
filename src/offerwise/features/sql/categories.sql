-- categories: the known categories of category_spend, ranked by spend (ties, to 6 decimals so
-- that the order of floating-point sums cannot flip them, broken by category name).
SELECT customer_id, as_of, category, spend,
       ROW_NUMBER() OVER (PARTITION BY customer_id, as_of ORDER BY ROUND(spend, 6) DESC, category) AS rank_no
FROM category_spend
WHERE category IS NOT NULL
