-- Encryption at rest of customer personal data (docs/customers.md, docs/adr/0042).
-- data, match (customer_source_record), data (customer_source_history) and golden (customer)
-- now hold a JSON string: AES-256-GCM ciphertext under the row's data key. data_key is that
-- key wrapped by a key-encryption key (`<kek id>:<base64>`); NULL once shredded (erasure).
-- Rows written before this migration keep their plaintext objects and no data key until
-- `syncline customers rotate-key` encrypts them.
ALTER TABLE customer_source_record ADD COLUMN data_key text;
ALTER TABLE customer ADD COLUMN data_key text;

-- The key-encryption keys that ever wrapped a data key, with a value sealed under each, so a
-- start with the wrong key material fails at once instead of on the first read. A key is
-- retired when a rotation has re-wrapped every data key away from it. The row '#index' holds
-- the check of the blind-index key.
CREATE TABLE customer_kek (
  id            text PRIMARY KEY,
  check_value   text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  retired_at    timestamptz
);
