-- Inventory: locations, the movement ledger, balances kept in step with it,
-- reservations, policies, availability publishing, reconciliation reports,
-- and the generic idempotency records used by inventory writes.

CREATE TABLE inventory_location (
  id          text PRIMARY KEY,
  code        text NOT NULL UNIQUE,
  name        text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('warehouse', 'store', '3pl')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per SKU and location. on_hand is the sum of the ledger's deltas;
-- reserved is the sum of open reservation quantities. Both are changed only
-- together with the rows they summarise, in the same transaction.
CREATE TABLE inventory_balance (
  sku          text NOT NULL,
  location_id  text NOT NULL REFERENCES inventory_location (id),
  on_hand      bigint NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
  reserved     bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sku, location_id)
);
CREATE INDEX inventory_balance_location_idx ON inventory_balance (location_id, sku);

-- The append-only movement ledger. quantity is the signed change of on hand;
-- counted is the absolute level a count set.
CREATE TABLE inventory_movement (
  id              bigserial PRIMARY KEY,
  request_id      text NOT NULL,
  type            text NOT NULL CHECK (type IN ('receipt', 'adjustment', 'transfer_out', 'transfer_in', 'sale', 'return_restock', 'count')),
  sku             text NOT NULL,
  location_id     text NOT NULL REFERENCES inventory_location (id),
  quantity        bigint NOT NULL,
  counted         bigint,
  reason          text,
  reference       text,
  reservation_id  text,
  correlation_id  text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_movement_sku_idx ON inventory_movement (sku, location_id, id);

CREATE TABLE inventory_reservation (
  id              text PRIMARY KEY,
  reference       text NOT NULL,
  channel         text NOT NULL,
  status          text NOT NULL CHECK (status IN ('active', 'released', 'expired', 'consumed')),
  expires_at      timestamptz,
  created_at      timestamptz NOT NULL,
  closed_at       timestamptz,
  correlation_id  text NOT NULL
);
CREATE INDEX inventory_reservation_reference_idx ON inventory_reservation (reference);
CREATE INDEX inventory_reservation_expiry_idx ON inventory_reservation (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;

-- A reservation line may be split over locations: one row per line and location.
-- open_quantity is what is still held (quantity minus consumed and released).
CREATE TABLE inventory_reservation_line (
  reservation_id  text NOT NULL REFERENCES inventory_reservation (id),
  line_number     integer NOT NULL,
  sku             text NOT NULL,
  location_id     text NOT NULL REFERENCES inventory_location (id),
  channel         text NOT NULL,
  quantity        bigint NOT NULL CHECK (quantity > 0),
  open_quantity   bigint NOT NULL CHECK (open_quantity >= 0 AND open_quantity <= quantity),
  consumed        bigint NOT NULL DEFAULT 0 CHECK (consumed >= 0),
  PRIMARY KEY (reservation_id, line_number, location_id)
);
CREATE INDEX inventory_reservation_line_open_idx ON inventory_reservation_line (sku, channel, location_id) WHERE open_quantity > 0;

-- Safety stock per SKU (location_id NULL: deducted from the SKU's pool) or per SKU and location.
CREATE TABLE inventory_safety_stock (
  sku          text NOT NULL,
  location_id  text REFERENCES inventory_location (id),
  quantity     bigint NOT NULL CHECK (quantity >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX inventory_safety_stock_uq ON inventory_safety_stock (sku, coalesce(location_id, ''));

-- Channel policy: the locations a channel may not sell from, and its default allocation.
CREATE TABLE inventory_channel_policy (
  channel               text PRIMARY KEY,
  excluded_location_ids text[] NOT NULL DEFAULT '{}',
  allocation_mode       text NOT NULL DEFAULT 'shared' CHECK (allocation_mode IN ('shared', 'percentage', 'cap')),
  allocation_value      bigint,
  updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Per-SKU allocation overriding the channel's default.
CREATE TABLE inventory_channel_sku_allocation (
  channel           text NOT NULL,
  sku               text NOT NULL,
  allocation_mode   text NOT NULL CHECK (allocation_mode IN ('shared', 'percentage', 'cap')),
  allocation_value  bigint,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, sku)
);

-- SKUs whose availability may have changed. Append-only (no row is updated),
-- so hot writers never contend here; the publisher deletes what it handled.
CREATE TABLE inventory_availability_change (
  id          bigserial PRIMARY KEY,
  sku         text NOT NULL,
  changed_at  timestamptz NOT NULL DEFAULT now()
);

-- The last figure announced per SKU and channel ('*' is the shared pool).
CREATE TABLE inventory_availability_published (
  sku           text NOT NULL,
  channel       text NOT NULL,
  available     bigint NOT NULL,
  on_hand       bigint NOT NULL,
  reserved      bigint NOT NULL,
  published_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sku, channel)
);

CREATE TABLE inventory_snapshot (
  id          text PRIMARY KEY,
  source      text NOT NULL,
  taken_at    timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  applied_at  timestamptz,
  complete    boolean NOT NULL,
  summary     jsonb NOT NULL
);
CREATE INDEX inventory_snapshot_created_idx ON inventory_snapshot (created_at DESC, id DESC);

CREATE TABLE inventory_snapshot_line (
  snapshot_id        text NOT NULL REFERENCES inventory_snapshot (id),
  sku                text NOT NULL,
  location_id        text NOT NULL REFERENCES inventory_location (id),
  ours               bigint NOT NULL,
  theirs             bigint NOT NULL,
  open_reservations  bigint NOT NULL,
  PRIMARY KEY (snapshot_id, sku, location_id)
);

-- Idempotency records for API writes, with the stored result that a retry replays.
CREATE TABLE idempotency_record (
  scope        text NOT NULL,
  key          text NOT NULL,
  fingerprint  text NOT NULL,
  result       jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_record_created_idx ON idempotency_record (created_at);
