-- Customers (docs/customers.md, docs/adr/0036): a customer groups source records, one per
-- system record (system, connection, external id). A merged customer is kept, status
-- 'merged', pointing at the customer it joined, so its id still resolves.
CREATE TABLE customer (
  id            text PRIMARY KEY,
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged')),
  merged_into   text REFERENCES customer (id),
  -- The survivorship rules' choice per attribute, each with the record it came from.
  golden        jsonb NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'merged') = (merged_into IS NOT NULL))
);

CREATE TABLE customer_source_record (
  id            text PRIMARY KEY,
  customer_id   text NOT NULL REFERENCES customer (id),
  system        text NOT NULL CHECK (system IN ('channel', 'loyalty', 'crm', 'erp')),
  connection    text NOT NULL,
  external_id   text NOT NULL,
  -- The record as last received (CustomerRecordInput) and how many times it was received.
  data          jsonb NOT NULL,
  -- The record prepared for matching (normalised contact points, ids), so candidates are
  -- compared without normalising them again.
  match         jsonb NOT NULL,
  version       integer NOT NULL DEFAULT 1,
  observed_at   timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (system, connection, external_id)
);
CREATE INDEX customer_source_record_customer_idx ON customer_source_record (customer_id);

-- Each record's own history: every version received, and which customer it belonged to
-- after each merge and unmerge (reason), so a record comes apart with its history.
CREATE TABLE customer_source_history (
  record_id     text NOT NULL REFERENCES customer_source_record (id),
  seq           bigint GENERATED ALWAYS AS IDENTITY,
  customer_id   text NOT NULL,
  reason        text NOT NULL CHECK (reason IN ('received', 'updated', 'merged', 'unmerged')),
  version       integer NOT NULL,
  data          jsonb,
  merge_id      text,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (record_id, seq)
);

-- Blocking keys (and contact-point look-ups): e:<email>, p:<E.164>, l:<loyalty id>, r:<ERP
-- party>, a:<address key>, f:<family>|<postcode>, g:<given>|<postcode>. customer_id follows
-- the record through merges, so candidates are found by key without a join.
CREATE TABLE customer_match_key (
  key           text NOT NULL,
  record_id     text NOT NULL REFERENCES customer_source_record (id),
  customer_id   text NOT NULL,
  PRIMARY KEY (key, record_id)
);
CREATE INDEX customer_match_key_record_idx ON customer_match_key (record_id);

-- Every merge, with the decision that made it; an unmerge sets unmerged_at and moves
-- record_ids back to merged_id.
CREATE TABLE customer_merge (
  id            text PRIMARY KEY,
  survivor_id   text NOT NULL REFERENCES customer (id),
  merged_id     text NOT NULL REFERENCES customer (id),
  record_ids    text[] NOT NULL,
  decision      text NOT NULL CHECK (decision IN ('deterministic', 'automatic', 'steward')),
  rule          text NOT NULL,
  score         double precision,
  evidence      jsonb NOT NULL DEFAULT '[]',
  actor         text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  unmerged_at   timestamptz,
  unmerged_by   text
);
CREATE INDEX customer_merge_survivor_idx ON customer_merge (survivor_id, created_at DESC);

-- Pairs a score put between the thresholds, waiting for a steward.
CREATE TABLE customer_stewardship (
  id            text PRIMARY KEY,
  customer_a    text NOT NULL REFERENCES customer (id),
  customer_b    text NOT NULL REFERENCES customer (id),
  record_a      text NOT NULL REFERENCES customer_source_record (id),
  record_b      text NOT NULL REFERENCES customer_source_record (id),
  score         double precision NOT NULL,
  evidence      jsonb NOT NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'merged', 'kept_apart', 'superseded')),
  merge_id      text REFERENCES customer_merge (id),
  decided_by    text,
  decided_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customer_stewardship_pending_pair ON customer_stewardship (least(customer_a, customer_b), greatest(customer_a, customer_b)) WHERE status = 'pending';
CREATE INDEX customer_stewardship_pending_idx ON customer_stewardship (created_at, id) WHERE status = 'pending';

-- Records a steward said are different people (keep apart, or unmerge): no rule or score
-- puts them in one customer again, and their customers never come back as a pair.
CREATE TABLE customer_keep_apart (
  record_a      text NOT NULL REFERENCES customer_source_record (id),
  record_b      text NOT NULL REFERENCES customer_source_record (id),
  decided_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (record_a, record_b),
  CHECK (record_a < record_b)
);
CREATE INDEX customer_keep_apart_b_idx ON customer_keep_apart (record_b);
