-- An OAuth sign-in between the authorize redirect and the provider's callback: keyed by a hash of
-- the state sent to the provider; `info` holds the app's own OAuth request and, sealed, the PKCE
-- verifier used with the provider.
CREATE TABLE oauth_outer_states (
    state_hash TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL,
    info TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- A user's account at an OAuth provider (the source of truth; users.oauth_providers mirrors it).
CREATE TABLE oauth_accounts (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, provider_id, account_id)
);
CREATE INDEX oauth_accounts_user ON oauth_accounts (user_id);

-- The one-time code the callback hands the app, exchanged with its PKCE verifier at the token
-- endpoint (RFC 6749 §4.1, RFC 7636).
CREATE TABLE oauth_authorization_codes (
    code_hash TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    is_new_user INTEGER NOT NULL,
    after_callback_redirect_url TEXT,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
