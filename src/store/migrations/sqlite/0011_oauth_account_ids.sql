-- OAuth accounts get the id, sign-in and connected-account switches the `/oauth-providers` API shows.
ALTER TABLE oauth_accounts ADD COLUMN id TEXT;
ALTER TABLE oauth_accounts ADD COLUMN allow_sign_in INTEGER NOT NULL DEFAULT 1;
ALTER TABLE oauth_accounts ADD COLUMN allow_connected_accounts INTEGER NOT NULL DEFAULT 1;
UPDATE oauth_accounts SET id = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-8' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))) WHERE id IS NULL;
CREATE UNIQUE INDEX uq_oauth_accounts_id ON oauth_accounts (id);
