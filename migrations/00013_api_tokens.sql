-- +goose Up
-- API tokens for machine callers of /api/v1 (the shop's purchase intake).
-- An admin creates one in the UI and is shown it once; only sha256 of the
-- token is kept (like sessions), so a copy of this table cannot be
-- presented as a token. prefix is the token's first characters, shown
-- afterwards so an admin can tell which token a shop holds. Names are
-- unique for good: the audit log names a token's actions by it.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text        NOT NULL,
    prefix       text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE,
    created_by   bigint REFERENCES users,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    revoked_by   bigint REFERENCES users
);
CREATE UNIQUE INDEX api_tokens_name_key ON api_tokens (lower(name));

-- +goose Down
DROP TABLE api_tokens;
