-- A provider's tokens for a user's OAuth account (connected accounts), sealed with the secret
-- box: the access token until it expires, the refresh token until the provider refuses it.
-- `scopes` (space-separated) are those asked for at sign-in.
CREATE TABLE oauth_tokens (
    id TEXT PRIMARY KEY,
    oauth_account_id TEXT NOT NULL REFERENCES oauth_accounts(id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    access_token_sealed TEXT,
    access_expires_at BIGINT,
    refresh_token_sealed TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX oauth_tokens_account ON oauth_tokens (oauth_account_id);
