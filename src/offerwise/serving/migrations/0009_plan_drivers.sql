-- Each customer's top value drivers (the plan file's `drivers`: a JSON list of
-- {feature, value, effect}, effect = change of the offer's expected incremental profit). The offer
-- answer carries them with the plan's reason code. NULL: not computed (or an older plan).

ALTER TABLE assignments ADD COLUMN drivers TEXT;
