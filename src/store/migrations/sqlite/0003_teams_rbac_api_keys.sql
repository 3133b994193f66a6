-- Team member profiles, permission definitions and grants, user and team API keys.

ALTER TABLE team_members ADD COLUMN display_name TEXT;
ALTER TABLE team_members ADD COLUMN profile_image_url TEXT;

-- Custom permissions of a project (system `$…` team permissions are built in, not stored).
CREATE TABLE permission_definitions (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    scope TEXT NOT NULL,
    description TEXT,
    -- JSON array of permission ids this one implies.
    contained TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (project_id, id)
);

-- Direct grants. team_id is '' for project permissions, so one table and one key serve both.
CREATE TABLE permission_grants (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    team_id TEXT NOT NULL,
    permission_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, team_id, permission_id)
);
CREATE INDEX permission_grants_team ON permission_grants (project_id, team_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    team_id TEXT REFERENCES teams(id) ON DELETE CASCADE,
    description TEXT NOT NULL,
    is_public INTEGER NOT NULL,
    secret_hash TEXT NOT NULL,
    last_four TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX uq_api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX api_keys_owner ON api_keys (project_id, user_id, team_id);
