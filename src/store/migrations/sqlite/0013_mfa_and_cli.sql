-- The last TOTP step a user signed in with: a code is accepted once (RFC 6238 §5.2).
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- CLI sign-in (the original's CliAuthAttempt): the CLI polls with one code while a signed-in
-- browser completes the other; both kept hashed. `refresh_token_sealed` is the session the
-- completion started for the CLI, until the CLI's poll collects it (once).
CREATE TABLE cli_auth_attempts (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    polling_code_hash TEXT NOT NULL,
    login_code_hash TEXT NOT NULL,
    anon_refresh_token_sealed TEXT,
    refresh_token_sealed TEXT,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX uq_cli_auth_attempts_polling_code_hash ON cli_auth_attempts (polling_code_hash);
CREATE UNIQUE INDEX uq_cli_auth_attempts_login_code_hash ON cli_auth_attempts (login_code_hash);
CREATE INDEX cli_auth_attempts_expiry ON cli_auth_attempts (expires_at);

-- A `type=link` OAuth flow connects the provider account when its code is exchanged with the
-- app's PKCE verifier, not at the callback (sealed: it carries the provider's tokens).
ALTER TABLE oauth_authorization_codes ADD COLUMN pending_link TEXT;
