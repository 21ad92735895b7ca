-- categories: the known categories of category_spend, ranked by spend (exact sums; ties broken
-- by category name).
SELECT customer_id, as_of, category, spend,
       ROW_NUMBER() OVER (PARTITION BY customer_id, as_of ORDER BY spend DESC, category) AS rank_no
FROM category_spend
WHERE category IS NOT NULL
