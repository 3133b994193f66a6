-- Foundation: instance secrets, projects and their API keys, users, sessions, teams (ownership).
-- Ids are TEXT, times BIGINT milliseconds, booleans BIGINT 0/1 (portable through sqlx Any).

CREATE TABLE instance_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    is_production_mode BIGINT NOT NULL DEFAULT 0,
    owner_team_id TEXT,
    onboarding_status TEXT NOT NULL DEFAULT 'completed',
    logo_url TEXT,
    logo_full_url TEXT,
    logo_dark_mode_url TEXT,
    logo_full_dark_mode_url TEXT,
    config TEXT NOT NULL
);

CREATE TABLE api_key_sets (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    publishable_client_key_hash TEXT,
    secret_server_key_hash TEXT,
    super_secret_admin_key_hash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_key_sets_client ON api_key_sets (publishable_client_key_hash);
CREATE INDEX api_key_sets_server ON api_key_sets (secret_server_key_hash);
CREATE INDEX api_key_sets_admin ON api_key_sets (super_secret_admin_key_hash);
CREATE INDEX api_key_sets_project ON api_key_sets (project_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    display_name TEXT,
    password_hash TEXT,
    profile_image_url TEXT,
    client_metadata TEXT,
    client_read_only_metadata TEXT,
    server_metadata TEXT,
    signed_up_at BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    is_anonymous BIGINT NOT NULL DEFAULT 0,
    restricted_by_admin BIGINT NOT NULL DEFAULT 0,
    restricted_by_admin_reason TEXT,
    restricted_by_admin_private_details TEXT,
    country_code TEXT,
    otp_auth_enabled BIGINT NOT NULL DEFAULT 0,
    totp_secret TEXT,
    selected_team_id TEXT,
    risk_scores TEXT,
    oauth_providers TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX users_signed_up ON users (project_id, signed_up_at, id);

-- A user's emails. The primary one is the user's `primary_email`; one used for auth signs them in.
CREATE TABLE contact_channels (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    is_verified BIGINT NOT NULL DEFAULT 0,
    is_primary BIGINT NOT NULL DEFAULT 0,
    used_for_auth BIGINT NOT NULL DEFAULT 0,
    -- `value` while used for auth, else NULL: unique per project and type.
    auth_value TEXT,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX uq_contact_channels_auth_value ON contact_channels (project_id, type, auth_value);
CREATE UNIQUE INDEX uq_contact_channels_value ON contact_channels (user_id, type, value);
CREATE UNIQUE INDEX uq_contact_channels_is_primary ON contact_channels (user_id, type) WHERE is_primary = 1;
CREATE INDEX contact_channels_search ON contact_channels (project_id, value);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    refresh_token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT,
    is_impersonation BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX uq_sessions_refresh_token_hash ON sessions (refresh_token_hash);
CREATE INDEX sessions_user ON sessions (user_id, created_at);

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    profile_image_url TEXT,
    client_metadata TEXT,
    client_read_only_metadata TEXT,
    server_metadata TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX teams_project ON teams (project_id, created_at);

CREATE TABLE team_members (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);
