-- top_category_shares: top_categories without the names (the decision features need none): no
-- ranking. The same numbers: the biggest spend's share of the spend with a known category and
-- the number of distinct categories bought.
SELECT customer_id, as_of,
       CAST(NULL AS STRING) AS top_category,
       CAST(NULL AS STRING) AS top_category_2,
       CAST(NULL AS STRING) AS top_category_3,
       CAST(MAX(spend) AS DOUBLE) / NULLIF(CAST(SUM(spend) AS DOUBLE), 0) AS top_category_share,
       COUNT(*) AS n_categories
FROM category_spend
WHERE category IS NOT NULL
GROUP BY customer_id, as_of
