-- A step whose outcome can be unknown (an ERP posting cut off by a timeout or a crash) is
-- recorded as `started` before its forward action runs. A cancel that finds it started,
-- never done, looks the effect up by its business key and undoes it if it exists.
ALTER TABLE flow_step DROP CONSTRAINT flow_step_status_check;
ALTER TABLE flow_step ADD CONSTRAINT flow_step_status_check CHECK (status IN ('started', 'done', 'compensated'));
