-- One row each time a sign-up rule's condition matched a sign-up (any action, the sign-up
-- allowed or not), for internal/sign-up-rules-stats. Who signed up is not kept.
CREATE TABLE sign_up_rule_triggers (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    rule_id TEXT NOT NULL,
    action TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sign_up_rule_triggers_by_time ON sign_up_rule_triggers (project_id, created_at);
