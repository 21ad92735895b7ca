-- The category a plan row's offer is scoped to for that customer (`offerwise plan`: a template
-- offer's concrete recommended category, or the offer's fixed category). Coupons of the plan's
-- offer are valid only on baskets with a line in it. NULL: the offer's own scope applies.

ALTER TABLE assignments ADD COLUMN category TEXT;
