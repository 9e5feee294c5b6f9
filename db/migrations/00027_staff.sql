-- +goose Up
-- Staff (package staff): the people who work in the accounting console, apart
-- from the merchants' API keys. A user's role says what they may do; a user
-- limited to some merchants sees only those (merchant_ids; NULL is every
-- merchant).
CREATE TABLE staff_users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email           text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    role            text NOT NULL CHECK (role IN ('viewer', 'accountant', 'approver', 'admin')),
    -- argon2id in the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash   text NOT NULL,
    merchant_ids    bigint[],
    disabled        boolean NOT NULL DEFAULT false,
    -- The password was set by an admin (create, reset): the user must choose a
    -- new one at the next login.
    must_change     boolean NOT NULL DEFAULT true,
    -- Failed logins since the last success; past a few, logins are refused
    -- until locked_until (exponential backoff).
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_login_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX staff_users_email_idx ON staff_users (email);

-- A session stores only the SHA-256 of its token: the cookie's value never
-- reaches the database. A session ends at expires_at (absolute), after the
-- idle timeout since last_seen_at, or at logout (deleted).
CREATE TABLE staff_sessions (
    token_hash      bytea PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    client_addr     text NOT NULL DEFAULT ''
);
CREATE INDEX staff_sessions_user_idx ON staff_sessions (user_id);

-- +goose Down
DROP TABLE staff_sessions;
DROP TABLE staff_users;
