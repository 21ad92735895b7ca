-- Why the plan gave each customer its offer (or none): the plan file's `reason` column
-- (`best_net_of_budget_price`, `budget_exhausted`, `no_positive_offer`, `holdout`, `explore`, ...).
-- GET offer returns it. NULL: a plan written before reasons were loaded.

ALTER TABLE assignments ADD COLUMN reason TEXT;
