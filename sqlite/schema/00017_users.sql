-- +goose Up
-- The operators' dashboard: its users, their login sessions, and the
-- index its overview reads today's CDRs by.
--
-- A user logs in with an email address, unique across the installation
-- (the login form asks for no tenant), stored lower-cased by the store.
-- password_hash is the self-describing argon2id string the dashboard
-- makes; the role is an API key's role, checked the same way.
CREATE TABLE users (
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id),
    id            TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'finance', 'readonly')),
    password_hash BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT users_email_key UNIQUE (email)
);

-- A login session is found by the SHA-256 of the cookie's random token
-- (256 bits), as API keys are by their secret's: a copy of this table
-- logs nobody in. Kept here rather than in a signed cookie so that any
-- instance serves it and a logout or a new password ends it at once.
CREATE TABLE user_sessions (
    tenant_id  TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    token_hash BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT user_sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT user_sessions_expiry_check CHECK (expires_at > created_at),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

-- A new password ends the user's sessions; the sweep of expired ones
-- reads them by expiry.
CREATE INDEX user_sessions_user_idx ON user_sessions (tenant_id, user_id);
CREATE INDEX user_sessions_expires_idx ON user_sessions (expires_at);

-- The overview totals a tenant's CDRs of today: a range of this index,
-- however many CDRs came before.
CREATE INDEX cdrs_tenant_created_idx ON cdrs (tenant_id, created_at);

-- +goose Down
DROP INDEX cdrs_tenant_created_idx;
DROP TABLE user_sessions;
DROP TABLE users;
