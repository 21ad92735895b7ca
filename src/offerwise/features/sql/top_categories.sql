-- top_categories: the three biggest categories by spend, the biggest spend's share of the spend
-- with a known category, and the number of distinct categories bought (breadth).
SELECT customer_id, as_of,
       MAX(CASE WHEN rank_no = 1 THEN category END) AS top_category,
       MAX(CASE WHEN rank_no = 2 THEN category END) AS top_category_2,
       MAX(CASE WHEN rank_no = 3 THEN category END) AS top_category_3,
       CAST(MAX(spend) AS DOUBLE) / NULLIF(CAST(SUM(spend) AS DOUBLE), 0) AS top_category_share,
       COUNT(*) AS n_categories
FROM categories
GROUP BY customer_id, as_of
