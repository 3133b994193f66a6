-- The data vault: values the SDK encrypted on its caller's side, under the hash of their key
-- (the plain key never reaches us), encrypted again here with the instance's key (sealed).
CREATE TABLE data_vault_entries (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    store_id TEXT NOT NULL,
    hashed_key TEXT NOT NULL,
    sealed_value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, store_id, hashed_key)
);
