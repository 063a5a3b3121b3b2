package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is a staff member's level of access. Each role can do everything
// the roles below it can.
type Role string

// The roles, lowest first.
const (
	RoleViewer  Role = "viewer"
	RoleSupport Role = "support"
	RoleBilling Role = "billing"
	RoleAdmin   Role = "admin"
)

// Roles lists every role, lowest first.
var Roles = []Role{RoleViewer, RoleSupport, RoleBilling, RoleAdmin}

// ParseRole returns the role named s; its error names the valid roles.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Roles, r) {
		return r, nil
	}
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown role %q: want one of %s", s, strings.Join(names, ", "))
}

// AtLeast reports whether r grants everything min does. An unknown role
// grants nothing, and no role is at least an unknown one.
func (r Role) AtLeast(min Role) bool {
	have, want := slices.Index(Roles, r), slices.Index(Roles, min)
	return have >= 0 && want >= 0 && have >= want
}

func (r Role) valid() bool { return slices.Contains(Roles, r) }

// User is a staff account.
type User struct {
	ID           int64      `db:"id"`
	Email        string     `db:"email"`
	Name         string     `db:"name"`
	Role         Role       `db:"role"`
	PasswordHash string     `db:"password_hash"`
	Disabled     bool       `db:"disabled"`
	SessionEpoch int64      `db:"session_epoch"`
	CreatedAt    time.Time  `db:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at"`
	LastLoginAt  *time.Time `db:"last_login_at"`
}

// ErrEmailTaken is returned by AddUser when the email is in use.
var ErrEmailTaken = errors.New("store: a user with this email exists")

// userColumns is named rather than * so a later migration adding a column
// does not break scanning into User.
const userColumns = `id, email, name, role, password_hash, disabled, session_epoch, created_at, updated_at, last_login_at`

// normalizeEmail is the one spelling of an email the table keeps.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ON CONFLICT DO NOTHING rather than catching the unique violation: inside
// a transaction the violation would abort it, and the caller may want to
// record the refusal in that same transaction.
const addUserSQL = `
INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
ON CONFLICT ((lower(email))) DO NOTHING
RETURNING ` + userColumns

// AddUser creates an account (email trimmed and lower-cased) and returns
// it, or ErrEmailTaken.
func (s *Store) AddUser(ctx context.Context, email, name string, role Role, passwordHash string) (User, error) {
	email = normalizeEmail(email)
	var u User
	if !role.valid() {
		return u, fmt.Errorf("store: add user %s: unknown role %q", email, role)
	}
	if email == "" || passwordHash == "" {
		return u, fmt.Errorf("store: add user: email and password hash are required")
	}
	err := sqlxGet(ctx, s, &u, addUserSQL, email, strings.TrimSpace(name), role, passwordHash)
	if isNoRows(err) {
		return u, ErrEmailTaken
	}
	if err != nil {
		return u, fmt.Errorf("store: add user %s: %w", email, err)
	}
	return u, nil
}

// User returns the account with the id, or ErrNotFound.
func (s *Store) User(ctx context.Context, id int64) (User, error) {
	var u User
	err := sqlxGet(ctx, s, &u, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	if isNoRows(err) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("store: load user %d: %w", id, err)
	}
	return u, nil
}

// UserByEmail returns the account with the email, in any case, or
// ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	err := sqlxGet(ctx, s, &u, `SELECT `+userColumns+` FROM users WHERE lower(email) = $1`, normalizeEmail(email))
	if isNoRows(err) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("store: load user %s: %w", normalizeEmail(email), err)
	}
	return u, nil
}

// Users returns every account, by email.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	var us []User
	if err := sqlxSelect(ctx, s, &us, `SELECT `+userColumns+` FROM users ORDER BY email`); err != nil {
		return nil, fmt.Errorf("store: load users: %w", err)
	}
	return us, nil
}

// The changes that must end a user's sessions bump session_epoch, which
// alone makes every existing session dead, and delete the rows in the same
// statement so they do not linger until next seen.
const (
	setUserRoleSQL = `
WITH u AS (
    UPDATE users SET role = $2, session_epoch = session_epoch + 1, updated_at = now()
    WHERE id = $1 RETURNING ` + userColumns + `
), ended AS (
    DELETE FROM sessions WHERE user_id IN (SELECT id FROM u)
)
SELECT ` + userColumns + ` FROM u`

	setUserDisabledSQL = `
WITH u AS (
    UPDATE users SET disabled = $2, session_epoch = session_epoch + 1, updated_at = now()
    WHERE id = $1 RETURNING ` + userColumns + `
), ended AS (
    DELETE FROM sessions WHERE user_id IN (SELECT id FROM u)
)
SELECT ` + userColumns + ` FROM u`

	setUserPasswordSQL = `
WITH u AS (
    UPDATE users SET password_hash = $2, session_epoch = session_epoch + 1, updated_at = now()
    WHERE id = $1 RETURNING ` + userColumns + `
), ended AS (
    DELETE FROM sessions WHERE user_id IN (SELECT id FROM u)
)
SELECT ` + userColumns + ` FROM u`
)

// SetUserRole changes a user's role and ends their sessions, so the new
// role applies from their next login. ErrNotFound when there is no such
// user.
func (s *Store) SetUserRole(ctx context.Context, id int64, role Role) (User, error) {
	if !role.valid() {
		return User{}, fmt.Errorf("store: set role of user %d: unknown role %q", id, role)
	}
	return s.changeUser(ctx, id, "set role of", setUserRoleSQL, role)
}

// SetUserDisabled disables or enables a user and ends their sessions.
// ErrNotFound when there is no such user.
func (s *Store) SetUserDisabled(ctx context.Context, id int64, disabled bool) (User, error) {
	what := "enable"
	if disabled {
		what = "disable"
	}
	return s.changeUser(ctx, id, what, setUserDisabledSQL, disabled)
}

// SetUserPassword replaces a user's password hash and ends their sessions.
// ErrNotFound when there is no such user.
func (s *Store) SetUserPassword(ctx context.Context, id int64, passwordHash string) (User, error) {
	if passwordHash == "" {
		return User{}, fmt.Errorf("store: set password of user %d: empty hash", id)
	}
	return s.changeUser(ctx, id, "set password of", setUserPasswordSQL, passwordHash)
}

func (s *Store) changeUser(ctx context.Context, id int64, what, query string, value any) (User, error) {
	var u User
	err := sqlxGet(ctx, s, &u, query, id, value)
	if isNoRows(err) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("store: %s user %d: %w", what, id, err)
	}
	return u, nil
}

// RecordLogin notes a successful login. ErrNotFound when there is no such
// user.
func (s *Store) RecordLogin(ctx context.Context, id int64) error {
	res, err := s.q.ExecContext(ctx, `UPDATE users SET last_login_at = now() WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: record login of user %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}
