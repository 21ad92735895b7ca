-- The offers the planner's rules allowed each customer (the plan file's `eligible_offers`: offer
-- ids joined by '|', '' = none). The service's exploration draw (ε) picks among these only.
-- NULL: a plan written before eligibility was loaded (the draw then covers the active menu).

ALTER TABLE assignments ADD COLUMN eligible TEXT;
