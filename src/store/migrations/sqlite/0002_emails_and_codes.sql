-- One-time codes (OTP / magic links, password reset, email verification, invitations) and the
-- email outbox, which is also the delivery queue.

CREATE TABLE verification_codes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    -- SHA-256 of the whole code, and of its last 39 characters (the nonce attempts are counted on).
    code_hash TEXT NOT NULL,
    nonce_hash TEXT NOT NULL,
    redirect_url TEXT,
    method TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    attempt_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX uq_verification_codes_code_hash ON verification_codes (code_hash);
CREATE INDEX verification_codes_nonce ON verification_codes (nonce_hash);

CREATE TABLE emails (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id TEXT,
    recipient TEXT NOT NULL,
    to_json TEXT NOT NULL,
    template TEXT,
    variables TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    text_body TEXT NOT NULL,
    is_transactional INTEGER NOT NULL,
    is_high_priority INTEGER NOT NULL DEFAULT 0,
    notification_category_id TEXT NOT NULL,
    -- Which server sends it: the project's own ('project') or the instance default ('instance').
    smtp TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    scheduled_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    attempt_errors TEXT NOT NULL DEFAULT '[]',
    claimed_until INTEGER,
    started_sending_at INTEGER,
    delivered_at INTEGER,
    error_at INTEGER,
    server_error TEXT,
    skipped_at INTEGER,
    skipped_reason TEXT
);
CREATE INDEX emails_due ON emails (status, next_attempt_at);
CREATE INDEX emails_project ON emails (project_id, created_at);

-- A user's choice per notification category (absent = the category's default, enabled).
CREATE TABLE notification_preferences (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    category_id TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    PRIMARY KEY (user_id, category_id)
);
