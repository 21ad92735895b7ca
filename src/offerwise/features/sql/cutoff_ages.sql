-- cutoff_ages: the distinct cutoffs with the age of the customer's signup date in days
-- (NULL when unknown; negative when the customer signed up after the cutoff).
SELECT c.customer_id, c.as_of, DAYS_BETWEEN(cu.signup_date, c.as_of) AS signup_age_days
FROM (SELECT DISTINCT customer_id, as_of FROM ow_cutoffs) c
LEFT JOIN ow_customers cu ON cu.customer_id = c.customer_id
