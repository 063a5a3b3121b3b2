package store

import (
	"context"
	"fmt"
	"time"
)

// Login throttling counts failed logins in PostgreSQL, so every replica
// sees the same counts and restarting one does not reset them. The caller
// decides the limits and the window.

// RecordLoginFailure counts a failed login for the email (lower-cased, as
// typed, whether or not such a user exists) and the address it came from.
func (s *Store) RecordLoginFailure(ctx context.Context, email, remoteAddr string) error {
	if _, err := s.q.ExecContext(ctx, `INSERT INTO login_failures (email, remote_addr) VALUES ($1, $2)`,
		cleanText(normalizeEmail(email), 0), cleanText(remoteAddr, 0)); err != nil {
		return fmt.Errorf("store: record login failure: %w", err)
	}
	return nil
}

const loginFailuresSQL = `
SELECT (SELECT count(*) FROM login_failures WHERE email = $1 AND at >= $3),
       (SELECT count(*) FROM login_failures WHERE remote_addr = $2 AND at >= $3)`

// LoginFailures counts the failed logins since `since` for the email
// (lower-cased) and, separately, from the address.
func (s *Store) LoginFailures(ctx context.Context, email, remoteAddr string, since time.Time) (byEmail, byAddr int, err error) {
	err = s.q.QueryRowxContext(ctx, loginFailuresSQL, cleanText(normalizeEmail(email), 0), cleanText(remoteAddr, 0), since).
		Scan(&byEmail, &byAddr)
	if err != nil {
		return 0, 0, fmt.Errorf("store: count login failures: %w", err)
	}
	return byEmail, byAddr, nil
}

// ClearLoginFailures forgets the email's failed logins, after a successful
// login. The address's failures stay: one right password does not vouch
// for the other accounts an address has been trying.
func (s *Store) ClearLoginFailures(ctx context.Context, email string) error {
	if _, err := s.q.ExecContext(ctx, `DELETE FROM login_failures WHERE email = $1`, cleanText(normalizeEmail(email), 0)); err != nil {
		return fmt.Errorf("store: clear login failures: %w", err)
	}
	return nil
}
