-- The W3C trace context of the work that enqueued a job (docs/adr/0022): the worker runs the
-- job in a span that continues this trace, so a request, its jobs, their flow steps and
-- connector calls make one trace, sampled flag and tracestate included. NULL: no trace.
ALTER TABLE runtime_job ADD COLUMN traceparent text, ADD COLUMN tracestate text;
