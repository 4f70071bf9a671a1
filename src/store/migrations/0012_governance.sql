-- API governance: per-client rate limits, secret rotation with grace, rotating signing keys,
-- token revocation, shared rate counters and the audit trail (docs/adr/0008).

-- A client's own request limit per window (NULL: the deployment default, SYNCLINE_CLIENT_RATE_LIMIT).
-- After a secret rotation the previous secret keeps working until previous_secret_expires_at.
ALTER TABLE api_client
  ADD COLUMN rate_limit integer CHECK (rate_limit > 0),
  ADD COLUMN previous_secret_hash text,
  ADD COLUMN previous_secret_expires_at timestamptz,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Token signing keys (HS256). The newest key that is not retired signs; a retired key still
-- verifies until the tokens it signed have expired. A key from SYNCLINE_JWT_SECRET is listed
-- with its kid and no secret (configured = true): the secret stays in the configuration.
CREATE TABLE api_signing_key (
  kid         text PRIMARY KEY,
  secret      text,
  configured  boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  retired_at  timestamptz,
  CHECK (configured OR secret IS NOT NULL)
);

-- The key every process generated and shared before keys had ids: tokens without a kid were
-- signed with it, so it verifies them (kid 'legacy') and keeps signing until the first rotation.
INSERT INTO api_signing_key (kid, secret, created_at)
SELECT 'legacy', value, created_at FROM system_secret WHERE name = 'jwt-signing-key';

-- Revoked access tokens (RFC 7009), kept until the token would have expired anyway.
CREATE TABLE api_token_revocation (
  jti         text PRIMARY KEY,
  client_id   text NOT NULL,
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz NOT NULL DEFAULT now()
);

-- Requests counted per bucket (a client's rate limit, failed authentications per client id or
-- per address) and fixed window, summed over every API process. Each process adds its counts
-- every few hundred milliseconds; rows of past windows are deleted.
CREATE TABLE api_rate_count (
  bucket        text NOT NULL,
  window_start  bigint NOT NULL,
  count         integer NOT NULL,
  PRIMARY KEY (bucket, window_start)
);

-- Who did what, when: administrative and operational actions (clients, keys, dead letters,
-- holds, cancels). Details never hold secrets or personal data.
CREATE TABLE audit_event (
  id              text PRIMARY KEY,
  occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor           text NOT NULL,
  action          text NOT NULL,
  target_type     text NOT NULL,
  target_id       text NOT NULL,
  details         jsonb NOT NULL DEFAULT '{}',
  correlation_id  text
);
CREATE INDEX audit_event_occurred ON audit_event (occurred_at DESC, id DESC);
CREATE INDEX audit_event_target ON audit_event (target_type, target_id, occurred_at DESC);
CREATE INDEX audit_event_actor ON audit_event (actor, occurred_at DESC);
