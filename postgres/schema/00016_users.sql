-- The operators' dashboard, as in SQLite's 00017_users.sql: its users,
-- their login sessions (found by the SHA-256 of the cookie's token, kept
-- in the database so any instance serves them and a logout ends them
-- everywhere), and the index its overview reads today's CDRs by.

-- +goose Up

CREATE TABLE users (
    tenant_id     text COLLATE "C" NOT NULL,
    id            text COLLATE "C" NOT NULL,
    email         text COLLATE "C" NOT NULL,
    role          text             NOT NULL,
    password_hash bytea            NOT NULL,
    created_at    timestamptz      NOT NULL,
    updated_at    timestamptz      NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_role_check CHECK (role IN ('admin', 'operator', 'finance', 'readonly')),
    CONSTRAINT users_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id)
);

CREATE TABLE user_sessions (
    tenant_id  text COLLATE "C" NOT NULL,
    id         text COLLATE "C" NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    token_hash bytea            NOT NULL,
    created_at timestamptz      NOT NULL,
    expires_at timestamptz      NOT NULL,
    CONSTRAINT user_sessions_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT user_sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT user_sessions_expiry_check CHECK (expires_at > created_at),
    CONSTRAINT user_sessions_user_fkey FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

CREATE INDEX user_sessions_user_idx ON user_sessions (tenant_id, user_id);
CREATE INDEX user_sessions_expires_idx ON user_sessions (expires_at);

-- The overview totals a tenant's CDRs of today: a range of this index.
CREATE INDEX cdrs_tenant_created_idx ON cdrs (tenant_id, created_at);

-- +goose Down
DROP INDEX cdrs_tenant_created_idx;
DROP TABLE user_sessions;
DROP TABLE users;
