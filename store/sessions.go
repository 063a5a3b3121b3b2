package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Session is a live login: the user it belongs to, the user's session
// epoch when it was made, and when it was made and last used.
type Session struct {
	UserID     int64
	Epoch      int64
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// ErrSessionEnded is returned by SessionUser for a token that names no live
// session: unknown, logged out, timed out, or ended by a change to its
// user.
var ErrSessionEnded = errors.New("store: session ended")

// sessionTouchAfter is how stale last_seen_at may get before a request
// writes it again, so a busy user does not write on every request. The idle
// timeout is therefore honoured to within this much.
const sessionTouchAfter = time.Minute

// maxUserAgentBytes bounds what a client's User-Agent header can make us
// store with each session.
const maxUserAgentBytes = 512

// tokenHash is what the table keeps instead of the token: a leaked row
// (a backup, a replica) cannot be presented as a cookie.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// The user must exist and not be disabled; the session takes the epoch the
// user has now.
const createSessionSQL = `
INSERT INTO sessions (id_hash, user_id, epoch, remote_addr, user_agent)
SELECT $1, id, session_epoch, NULLIF($3, ''), NULLIF($4, '') FROM users WHERE id = $2 AND NOT disabled`

// CreateSession starts a session for the user and returns its token (32
// random bytes, base64url), which only the caller ever holds. ErrNotFound
// when the user does not exist or is disabled.
func (s *Store) CreateSession(ctx context.Context, userID int64, remoteAddr, userAgent string) (token string, err error) {
	raw := make([]byte, 32)
	rand.Read(raw) // never fails: crypto/rand aborts the process instead
	token = base64.RawURLEncoding.EncodeToString(raw)
	res, err := s.q.ExecContext(ctx, createSessionSQL, tokenHash(token), userID,
		cleanText(remoteAddr, 0), cleanText(userAgent, maxUserAgentBytes))
	if err != nil {
		return "", fmt.Errorf("store: create session for user %d: %w", userID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return "", fmt.Errorf("store: create session for user %d: %w", userID, ErrNotFound)
	}
	return token, nil
}

// sessionRow is a session joined with its user, and the verdicts the
// database reached on it by its own clock (one clock for every replica).
type sessionRow struct {
	User
	SessEpoch      int64     `db:"s_epoch"`
	SessCreatedAt  time.Time `db:"s_created_at"`
	SessLastSeenAt time.Time `db:"s_last_seen_at"`
	Live           bool      `db:"live"`
	Stale          bool      `db:"stale"`
}

// $2 and $3 are the absolute and idle timeouts in microseconds.
const sessionUserSQL = `
SELECT u.id, u.email, u.name, u.role, u.password_hash, u.disabled, u.session_epoch,
       u.created_at, u.updated_at, u.last_login_at,
       s.epoch AS s_epoch, s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at,
       (NOT u.disabled AND s.epoch = u.session_epoch
        AND s.created_at > now() - $2::float8 * interval '1 microsecond'
        AND s.last_seen_at > now() - $3::float8 * interval '1 microsecond') AS live,
       s.last_seen_at < now() - $4::float8 * interval '1 microsecond' AS stale
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.id_hash = $1`

// SessionUser returns the session the token names and its user, if the
// session is live: its user is enabled and has not had its sessions ended
// since, it was made less than absolute ago and used less than idle ago.
// Otherwise it deletes the session, if there is one, and returns
// ErrSessionEnded.
func (s *Store) SessionUser(ctx context.Context, token string, idle, absolute time.Duration) (Session, User, error) {
	hash := tokenHash(token)
	// Every request of every signed-in user comes through here, so the
	// lookup is prepared and is the only statement in the common case.
	stmt, err := s.prepared(ctx, sessionUserSQL)
	if err != nil {
		return Session{}, User{}, fmt.Errorf("store: load session: %w", err)
	}
	var row sessionRow
	err = stmt.GetContext(ctx, &row, hash, absolute.Microseconds(), idle.Microseconds(), sessionTouchAfter.Microseconds())
	if isNoRows(err) {
		return Session{}, User{}, ErrSessionEnded
	}
	if err != nil {
		return Session{}, User{}, fmt.Errorf("store: load session: %w", err)
	}
	if !row.Live {
		if _, err := s.q.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, hash); err != nil {
			return Session{}, User{}, fmt.Errorf("store: end session of user %d: %w", row.ID, err)
		}
		return Session{}, User{}, ErrSessionEnded
	}
	sess := Session{UserID: row.ID, Epoch: row.SessEpoch, CreatedAt: row.SessCreatedAt, LastSeenAt: row.SessLastSeenAt}
	if row.Stale {
		if err := s.touchSession(ctx, hash, &sess.LastSeenAt); err != nil {
			return Session{}, User{}, fmt.Errorf("store: touch session of user %d: %w", row.ID, err)
		}
	}
	return sess, row.User, nil
}

// touchSession sets the session's last_seen_at to now and stores it in
// *seen, unless another request of the same session is touching it at this
// moment: a browser sends several requests at once, and all of them find
// the session stale together. They used to queue on the row lock, each
// waiting for the one before to commit and flush, which added a flush
// per request to the last of them. Now the first one touches it and the
// others skip it (SKIP LOCKED) and keep *seen as read.
//
// The touch commits without waiting for its WAL flush
// (synchronous_commit off for this transaction only): a crash can lose at
// most the last fraction of a second's touches, which only makes those
// sessions look idle for a little longer than they were, never the
// reverse. Inside a caller's transaction it leaves that transaction's
// durability alone.
func (s *Store) touchSession(ctx context.Context, hash []byte, seen *time.Time) error {
	own := s.tx == nil
	return s.InTx(ctx, func(tx *Store) error {
		if own {
			if _, err := tx.q.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return err
			}
		}
		err := sqlxGet(ctx, tx, seen, `
UPDATE sessions SET last_seen_at = now()
WHERE id_hash = (SELECT id_hash FROM sessions WHERE id_hash = $1 FOR UPDATE SKIP LOCKED)
RETURNING last_seen_at`, hash)
		if isNoRows(err) {
			return nil
		}
		return err
	})
}

// DeleteSession ends the session the token names (logout). A session
// already gone is not an error.
func (s *Store) DeleteSession(ctx context.Context, token string) error {
	if _, err := s.q.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, tokenHash(token)); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// cleanText makes client-supplied text storable: PostgreSQL's text refuses
// invalid UTF-8 and NUL bytes, and a header that broke the insert would
// break the login or the action being recorded. max > 0 cuts it to at most
// max bytes on a character boundary.
func cleanText(v string, max int) string {
	v = strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "\uFFFD")
	if max > 0 && len(v) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = v[:cut]
	}
	return v
}
