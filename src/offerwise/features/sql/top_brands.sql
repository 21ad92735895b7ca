-- top_brands: the biggest brand by spend (ties: the first name in sort order), its share and the
-- private-label share (brand 'Private', the shop's own label), both of the spend with a known brand.
-- A join on the maximum instead of a window function: several times faster on many brands.
SELECT t.customer_id, t.as_of,
       tb.top_brand,
       CAST(t.top_spend AS DOUBLE) / NULLIF(CAST(t.known_spend AS DOUBLE), 0) AS top_brand_share,
       CAST(t.private_spend AS DOUBLE) / NULLIF(CAST(t.known_spend AS DOUBLE), 0) AS private_label_share
FROM (
    SELECT customer_id, as_of,
           SUM(spend) AS known_spend,
           MAX(spend) AS top_spend,
           SUM(CASE WHEN brand = 'Private' THEN spend ELSE 0 END) AS private_spend
    FROM brands
    GROUP BY customer_id, as_of
) t
LEFT JOIN (
    SELECT b.customer_id, b.as_of, MIN(b.brand) AS top_brand
    FROM brands b
    JOIN (SELECT customer_id, as_of, MAX(spend) AS top_spend FROM brands GROUP BY customer_id, as_of) m
      ON m.customer_id = b.customer_id AND m.as_of = b.as_of AND b.spend = m.top_spend
    GROUP BY b.customer_id, b.as_of
) tb ON tb.customer_id = t.customer_id AND tb.as_of = t.as_of
