package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// APIToken is a token a machine caller (a shop) presents to /api/v1. The
// token itself is never stored: only its SHA-256 and its first characters
// (Prefix), so an admin can recognise it.
type APIToken struct {
	ID         int64      `db:"id"`
	Name       string     `db:"name"`
	Prefix     string     `db:"prefix"`
	CreatedBy  *int64     `db:"created_by"`
	CreatedAt  time.Time  `db:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
	RevokedBy  *int64     `db:"revoked_by"`
}

// Revoked says the token no longer authenticates anything.
func (t APIToken) Revoked() bool { return t.RevokedAt != nil }

// APITokenPrefix starts every API token, so a leaked one is recognisable
// (secret scanners, logs).
const APITokenPrefix = "pdk_"

// apiTokenShown is how many characters of a token stay visible after it
// is created: the fixed prefix and 8 random characters.
const apiTokenShown = len(APITokenPrefix) + 8

// ErrTokenNameTaken is returned by CreateAPIToken for a name another
// token has (or had: names stay unique after revocation, as the audit log
// names tokens by them).
var ErrTokenNameTaken = errors.New("store: an API token with this name exists")

const apiTokenColumns = `id, name, prefix, created_by, created_at, last_used_at, revoked_at, revoked_by`

// CreateAPIToken makes a token named name and returns it with the token
// itself (32 random bytes, base64url, after APITokenPrefix), which only the
// caller ever holds.
func (s *Store) CreateAPIToken(ctx context.Context, name string, createdBy int64) (APIToken, string, error) {
	raw := make([]byte, 32)
	rand.Read(raw) // never fails: crypto/rand aborts the process instead
	token := APITokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	var t APIToken
	err := sqlxGet(ctx, s, &t, `INSERT INTO api_tokens (name, prefix, token_hash, created_by)
VALUES ($1, $2, $3, $4) RETURNING `+apiTokenColumns, cleanText(name, 0), token[:apiTokenShown], tokenHash(token), createdBy)
	if pqErr, ok := errors.AsType[*pq.Error](err); ok && pqErr.Code == "23505" && pqErr.Constraint == "api_tokens_name_key" {
		return APIToken{}, "", ErrTokenNameTaken
	}
	if err != nil {
		return APIToken{}, "", fmt.Errorf("store: create API token: %w", err)
	}
	return t, token, nil
}

// APITokens lists every token, live ones first, newest first.
func (s *Store) APITokens(ctx context.Context) ([]APIToken, error) {
	var out []APIToken
	if err := sqlxSelect(ctx, s, &out, `SELECT `+apiTokenColumns+` FROM api_tokens
ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC`); err != nil {
		return nil, fmt.Errorf("store: list API tokens: %w", err)
	}
	return out, nil
}

// APITokenByID returns a token, or ErrNotFound.
func (s *Store) APITokenByID(ctx context.Context, id int64) (APIToken, error) {
	var t APIToken
	err := sqlxGet(ctx, s, &t, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE id = $1`, id)
	if isNoRows(err) {
		return APIToken{}, ErrNotFound
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("store: API token %d: %w", id, err)
	}
	return t, nil
}

// RevokeAPIToken ends a token for good and returns it as revoked. A token
// revoked before keeps its first revocation. ErrNotFound when there is
// none.
func (s *Store) RevokeAPIToken(ctx context.Context, id, revokedBy int64) (APIToken, error) {
	var t APIToken
	err := sqlxGet(ctx, s, &t, `UPDATE api_tokens
SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, $2)
WHERE id = $1 RETURNING `+apiTokenColumns, id, revokedBy)
	if isNoRows(err) {
		return APIToken{}, ErrNotFound
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("store: revoke API token %d: %w", id, err)
	}
	return t, nil
}

// tokenTouchAfter is how stale last_used_at may get before a request
// writes it again: a busy shop does not write on every call.
const tokenTouchAfter = time.Minute

// APITokenByToken returns the live token a caller presented and notes its
// use. ErrNotFound for an unknown or revoked token, so the two cannot be
// told apart from outside.
func (s *Store) APITokenByToken(ctx context.Context, token string) (APIToken, error) {
	var t APIToken
	err := sqlxGet(ctx, s, &t, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`,
		tokenHash(token))
	if isNoRows(err) {
		return APIToken{}, ErrNotFound
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("store: look up API token: %w", err)
	}
	if t.LastUsedAt == nil || time.Since(*t.LastUsedAt) > tokenTouchAfter {
		if err := sqlxGet(ctx, s, &t.LastUsedAt, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1 RETURNING last_used_at`,
			t.ID); err != nil && !isNoRows(err) {
			return APIToken{}, fmt.Errorf("store: note use of API token %d: %w", t.ID, err)
		}
	}
	return t, nil
}
