-- +goose Up
-- Staff accounts. Emails are stored lower-cased; the unique index is on
-- lower(email) as well, so a row written by hand in another case still
-- cannot make a second account for the same person.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text        NOT NULL,
    name          text        NOT NULL DEFAULT '',
    role          text        NOT NULL CHECK (role IN ('viewer', 'support', 'billing', 'admin')),
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    -- Every session records the epoch it was made in and is live only while
    -- it still matches, so bumping this one number ends all of a user's
    -- sessions at once (disable, role change, password change), in every
    -- replica, without finding them first.
    session_epoch bigint      NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Login sessions. Only sha256 of the cookie's random token is kept, so a
-- copy of this table (a backup, a replica, a SELECT) cannot be replayed as
-- cookies.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    epoch        bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    remote_addr  text,
    user_agent   text
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Who did what, when, and how it went. actor keeps the email as it was
-- when the row was written, and actor_id has no ON DELETE action, so the
-- history outlives (and prevents deleting) the account that made it.
CREATE TABLE audit_log (
    id                bigserial PRIMARY KEY,
    at                timestamptz NOT NULL DEFAULT now(),
    actor_id          bigint REFERENCES users,
    actor             text        NOT NULL,
    action            text        NOT NULL,
    target            text,
    params            jsonb       NOT NULL DEFAULT '{}',
    outcome           text        NOT NULL CHECK (outcome IN ('ok', 'failed', 'refused')),
    stripe_request_id text,
    remote_addr       text
);
-- The admin page filters by date, actor, action or target and pages newest
-- first by id.
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, id DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target, id DESC);

-- The audit log is evidence: a bug, a careless UPDATE in psql or an
-- attacker with the application's credentials must not be able to rewrite
-- or erase it quietly. paydesk only ever INSERTs and SELECTs; the database
-- itself refuses anything else, whoever asks. (A superuser can still drop
-- the trigger, but not without leaving a trace in the schema.)
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Failed logins, counted per email and per address to throttle guessing.
-- It lives here rather than in memory so every replica counts the same
-- failures. The email is recorded whether or not such a user exists, so
-- the throttle does not reveal which accounts do.
CREATE TABLE login_failures (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    email       text        NOT NULL,
    remote_addr text        NOT NULL
);
CREATE INDEX login_failures_email_idx ON login_failures (email, at);
CREATE INDEX login_failures_addr_idx ON login_failures (remote_addr, at);

-- +goose Down
DROP TABLE login_failures;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE sessions;
DROP TABLE users;
