-- The operations console (/console): people who sign in, their sessions, and the indexes its
-- order search pages with (keyset on id within one filter: newest first, never a full scan).

CREATE TABLE console_user (
  id             text PRIMARY KEY,
  -- Lower-cased e-mail address; what a person signs in with.
  email          text NOT NULL UNIQUE,
  name           text NOT NULL,
  role           text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  -- scrypt$N$r$p$salt$hash (src/domain/clients/secret-hash.ts); never leaves the server.
  password_hash  text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a copy of
-- this table signs nobody in. Deleting the user deletes the sessions (sign-out everywhere).
CREATE TABLE console_session (
  token_hash    text PRIMARY KEY,
  user_id       text NOT NULL REFERENCES console_user (id) ON DELETE CASCADE,
  -- Synchronizer token for state-changing requests (ADR 0025); sent to the signed-in page only.
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_session_user_idx ON console_session (user_id);
CREATE INDEX console_session_last_seen_idx ON console_session (last_seen_at);

-- Order search pages newest first (ORDER BY id DESC LIMIT n). A rare status (held, exception) or
-- one customer's e-mail would otherwise walk the primary key through every order; these two
-- indexes make both a short index range. Channel and channel order id already have the unique
-- (channel, channel_order_id) index, and a channel filter alone walks the primary key (channels are
-- few, so a page fills fast). The cost: intake writes one more entry per index, and a status
-- change is no longer a HOT update (ADR 0025).
CREATE INDEX sales_order_status_id_idx ON sales_order (status, id);
CREATE INDEX sales_order_customer_email_id_idx ON sales_order (customer_email, id);
