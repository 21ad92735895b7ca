-- The plan's own probability of each assignment (`offerwise plan --explore`: the mixture of the
-- uniform exploration draw and the planner's choice), logged with every decision the service
-- makes from it. NULL for plans written before the column existed (read as 1).

ALTER TABLE assignments ADD COLUMN propensity DOUBLE PRECISION;
