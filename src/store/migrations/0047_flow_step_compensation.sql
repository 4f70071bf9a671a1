-- What a step's compensation reported, kept with the step: a cancel whose job is retried
-- part-way (the ERP throttled its cancellation) reports every compensation, those of the
-- earlier attempt included, not only the ones its last attempt made.
ALTER TABLE flow_step ADD COLUMN compensation jsonb;
