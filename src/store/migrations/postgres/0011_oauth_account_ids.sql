-- OAuth accounts get the id, sign-in and connected-account switches the `/oauth-providers` API shows.
ALTER TABLE oauth_accounts ADD COLUMN id TEXT;
ALTER TABLE oauth_accounts ADD COLUMN allow_sign_in BIGINT NOT NULL DEFAULT 1;
ALTER TABLE oauth_accounts ADD COLUMN allow_connected_accounts BIGINT NOT NULL DEFAULT 1;
UPDATE oauth_accounts SET id = gen_random_uuid()::text WHERE id IS NULL;
CREATE UNIQUE INDEX uq_oauth_accounts_id ON oauth_accounts (id);
