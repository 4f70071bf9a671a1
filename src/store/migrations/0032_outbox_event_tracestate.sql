-- The W3C tracestate that travels with an event's traceparent (docs/adr/0022): vendors' trace
-- data set upstream is kept on every event, as on every job. NULL: none was given.
ALTER TABLE outbox_event ADD COLUMN tracestate text;
