-- The last four characters of each key of a set, as the original lists them (internal/api-keys).
-- NULL: a set made without that key, or one made before this column.
ALTER TABLE api_key_sets ADD COLUMN publishable_client_key_last_four TEXT;
ALTER TABLE api_key_sets ADD COLUMN secret_server_key_last_four TEXT;
ALTER TABLE api_key_sets ADD COLUMN super_secret_admin_key_last_four TEXT;
-- Where a branch's config was pushed from (internal/config/source); NULL: unlinked.
ALTER TABLE config_overrides ADD COLUMN source TEXT;
