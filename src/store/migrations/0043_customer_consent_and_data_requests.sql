-- Consent and data subject requests (docs/customers.md, docs/adr/0039).

-- Every consent statement received, never updated: the current state per purpose and channel
-- is computed from this history (the most recent statement wins; a withdrawal wins a tie, and
-- a withdrawal for every channel (channel NULL) overrides older grants on any channel).
-- customer_id is the customer the statement was recorded for; a merged customer's statements
-- are read through the survivor, and stay with their customer when a merge is undone.
CREATE TABLE customer_consent (
  id                 text PRIMARY KEY,
  customer_id        text NOT NULL REFERENCES customer (id),
  purpose            text NOT NULL CHECK (purpose IN ('email_marketing', 'sms_marketing', 'profiling')),
  channel            text,
  status             text NOT NULL CHECK (status IN ('granted', 'withdrawn')),
  source_system      text NOT NULL CHECK (source_system IN ('channel', 'loyalty', 'crm', 'erp', 'syncline')),
  source_connection  text,
  given_at           timestamptz NOT NULL,
  proof              text,
  recorded_by        text NOT NULL,
  recorded_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_consent_customer_idx ON customer_consent (customer_id, given_at);
-- The same statement from the same source, sent again (a retry, a resync), is one statement.
CREATE UNIQUE INDEX customer_consent_statement_uq
  ON customer_consent (customer_id, purpose, coalesce(channel, ''), status, given_at, source_system, coalesce(source_connection, ''));

-- Data subject requests: an export keeps its document until the customer is erased; an erase
-- keeps the system records it was requested from (ids only).
CREATE TABLE customer_data_request (
  id             text PRIMARY KEY,
  customer_id    text NOT NULL REFERENCES customer (id),
  type           text NOT NULL CHECK (type IN ('export', 'erase')),
  status         text NOT NULL CHECK (status IN ('completed', 'expired')),
  requested_by   text NOT NULL,
  requested_at   timestamptz NOT NULL DEFAULT now(),
  completed_at   timestamptz,
  document       jsonb,
  systems        jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX customer_data_request_customer_idx ON customer_data_request (customer_id, requested_at);

-- When the customer's personal data was erased: an erased customer takes part in no matching
-- and a second erase answers with the first.
ALTER TABLE customer ADD COLUMN erased_at timestamptz;
