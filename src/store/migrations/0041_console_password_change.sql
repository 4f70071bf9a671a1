-- A console user whose password an admin chose in the browser (a new user, or a reset) must choose
-- their own at the next sign-in (docs/console.md, ADR 0037): until then their session may only
-- change the password or sign out. False for users made on the CLI and for existing users.
ALTER TABLE console_user ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;
