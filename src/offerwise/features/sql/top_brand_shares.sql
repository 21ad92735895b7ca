-- top_brand_shares: top_brands without the name (the decision features need none): no join on
-- the maximum. The same numbers: the biggest brand's share and the private-label share of the
-- spend with a known brand.
SELECT customer_id, as_of,
       CAST(NULL AS STRING) AS top_brand,
       CAST(MAX(spend) AS DOUBLE) / NULLIF(CAST(SUM(spend) AS DOUBLE), 0) AS top_brand_share,
       CAST(SUM(CASE WHEN brand = 'Private' THEN spend ELSE 0 END) AS DOUBLE)
           / NULLIF(CAST(SUM(spend) AS DOUBLE), 0) AS private_label_share
FROM brands
GROUP BY customer_id, as_of
