-- A user's passkeys (WebAuthn credentials, discoverable). `credential_id` is base64url as the
-- authenticator reports it; `static_state` (public key, extensions) and `dynamic_state`
-- (sign counter, backup and UV flags) are webauthn_rp's binary encodings in base64url. The
-- dynamic state changes at every sign-in and is replaced only if unchanged since it was read,
-- so a cloned authenticator racing the real one cannot both pass.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    static_state TEXT NOT NULL,
    dynamic_state TEXT NOT NULL,
    transports INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE UNIQUE INDEX uq_passkeys_credential_id ON passkeys (project_id, credential_id);
CREATE INDEX passkeys_user ON passkeys (user_id);
