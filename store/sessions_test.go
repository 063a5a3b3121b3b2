package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

func newSession(t *testing.T, st *store.Store, userID int64) string {
	t.Helper()
	tok, err := st.CreateSession(ctx, userID, "203.0.113.9", "test-agent")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func sessionCount(t *testing.T, st *store.Store, userID int64) int {
	t.Helper()
	var n int
	if err := st.DB().GetContext(ctx, &n, `SELECT count(*) FROM sessions WHERE user_id = $1`, userID); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSessionLifecycle(t *testing.T) {
	st := storetest.New(t)
	u := addUser(t, st, "ada@example.com", store.RoleSupport)
	tok := newSession(t, st, u.ID)
	if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != 32 {
		t.Fatalf("token %q: want 32 bytes base64url (%v)", tok, err)
	}
	if other := newSession(t, st, u.ID); other == tok {
		t.Fatal("two sessions share a token")
	}

	// Only the token's hash is stored.
	var stored int
	if err := st.DB().GetContext(ctx, &stored, `SELECT count(*) FROM sessions WHERE id_hash = sha256(convert_to($1, 'UTF8'))`, tok); err != nil || stored != 1 {
		t.Fatalf("sessions keyed by sha256(token): %d (%v)", stored, err)
	}
	var leaked int
	if err := st.DB().GetContext(ctx, &leaked, `SELECT count(*) FROM sessions WHERE position(convert_to($1, 'UTF8') IN id_hash) > 0 OR remote_addr = $1 OR user_agent = $1`, tok); err != nil || leaked != 0 {
		t.Fatalf("the token itself is stored (%d, %v)", leaked, err)
	}

	sess, got, err := st.SessionUser(ctx, tok, time.Hour, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Email != u.Email || got.Role != store.RoleSupport || sess.UserID != u.ID ||
		sess.Epoch != u.SessionEpoch || sess.CreatedAt.IsZero() || sess.LastSeenAt.IsZero() {
		t.Fatalf("SessionUser = %+v, %+v", sess, got)
	}

	for _, bad := range []string{"", "not-a-token", tok + "x", strings.ToUpper(tok)} {
		if _, _, err := st.SessionUser(ctx, bad, time.Hour, time.Hour); !errors.Is(err, store.ErrSessionEnded) {
			t.Fatalf("SessionUser(%q) error %v, want ErrSessionEnded", bad, err)
		}
	}

	if err := st.DeleteSession(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SessionUser(ctx, tok, time.Hour, time.Hour); !errors.Is(err, store.ErrSessionEnded) {
		t.Fatalf("after logout: %v, want ErrSessionEnded", err)
	}
	if err := st.DeleteSession(ctx, tok); err != nil {
		t.Fatalf("second logout: %v", err)
	}
}

func TestCreateSessionRefusesDisabledOrUnknownUser(t *testing.T) {
	st := storetest.New(t)
	u := addUser(t, st, "ada@example.com", store.RoleViewer)
	if _, err := st.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateSession(ctx, u.ID, "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session for a disabled user: %v, want ErrNotFound", err)
	}
	if _, err := st.CreateSession(ctx, u.ID+100, "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session for an unknown user: %v, want ErrNotFound", err)
	}
}

// Sessions end after idle time without use, and after the absolute
// lifetime however busy; an ended session's row is removed.
func TestSessionTimeouts(t *testing.T) {
	st := storetest.New(t)
	u := addUser(t, st, "ada@example.com", store.RoleViewer)

	idle := newSession(t, st, u.ID)
	if _, err := st.DB().ExecContext(ctx, `UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE id_hash = sha256(convert_to($1, 'UTF8'))`, idle); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SessionUser(ctx, idle, 30*time.Minute, 12*time.Hour); !errors.Is(err, store.ErrSessionEnded) {
		t.Fatalf("idle 31m of 30m: %v, want ErrSessionEnded", err)
	}

	old := newSession(t, st, u.ID)
	if _, err := st.DB().ExecContext(ctx, `UPDATE sessions SET created_at = now() - interval '13 hours' WHERE id_hash = sha256(convert_to($1, 'UTF8'))`, old); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SessionUser(ctx, old, 30*time.Minute, 12*time.Hour); !errors.Is(err, store.ErrSessionEnded) {
		t.Fatalf("13h old of 12h: %v, want ErrSessionEnded", err)
	}
	if n := sessionCount(t, st, u.ID); n != 0 {
		t.Fatalf("%d ended sessions left in the table", n)
	}

	quick := newSession(t, st, u.ID)
	time.Sleep(5 * time.Millisecond)
	if _, _, err := st.SessionUser(ctx, quick, time.Millisecond, time.Hour); !errors.Is(err, store.ErrSessionEnded) {
		t.Fatalf("idle 5ms of 1ms: %v, want ErrSessionEnded", err)
	}
}

// Use refreshes last_seen_at, but at most once a minute.
func TestSessionTouch(t *testing.T) {
	st := storetest.New(t)
	u := addUser(t, st, "ada@example.com", store.RoleViewer)
	tok := newSession(t, st, u.ID)
	first, _, err := st.SessionUser(ctx, tok, time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := st.SessionUser(ctx, tok, time.Hour, time.Hour)
	if err != nil || !again.LastSeenAt.Equal(first.LastSeenAt) {
		t.Fatalf("a fresh session was touched: %v -> %v (%v)", first.LastSeenAt, again.LastSeenAt, err)
	}

	if _, err := st.DB().ExecContext(ctx, `UPDATE sessions SET last_seen_at = now() - interval '10 minutes' WHERE user_id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Minute)
	touched, _, err := st.SessionUser(ctx, tok, 30*time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var stored time.Time
	if err := st.DB().GetContext(ctx, &stored, `SELECT last_seen_at FROM sessions WHERE user_id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if !touched.LastSeenAt.After(before) || !stored.Equal(touched.LastSeenAt) {
		t.Fatalf("a 10-minute-old session: returned last seen %v, stored %v; want both now", touched.LastSeenAt, stored)
	}
}

// A request that finds its session stale while another request of the
// same session is touching it does not wait for that one to commit: it
// keeps the last_seen_at it read, and a later request touches it.
func TestSessionTouchSkipsALockedSession(t *testing.T) {
	st := storetest.New(t)
	u := addUser(t, st, "ada@example.com", store.RoleViewer)
	tok := newSession(t, st, u.ID)
	if _, err := st.DB().ExecContext(ctx, `UPDATE sessions SET last_seen_at = now() - interval '10 minutes' WHERE user_id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	var old time.Time
	if err := st.DB().GetContext(ctx, &old, `SELECT last_seen_at FROM sessions WHERE user_id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	holder, err := st.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, `SELECT 1 FROM sessions WHERE user_id = $1 FOR UPDATE`, u.ID); err != nil {
		t.Fatal(err)
	}
	// Waiting on the lock would run into this deadline, as the holder
	// never lets go while the call runs.
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sess, _, err := st.SessionUser(wait, tok, 30*time.Minute, time.Hour)
	if err != nil {
		t.Fatalf("stale session while another request touches it: %v", err)
	}
	if !sess.LastSeenAt.Equal(old) {
		t.Fatalf("last seen %v, want the stored %v kept", sess.LastSeenAt, old)
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	sess, _, err = st.SessionUser(ctx, tok, 30*time.Minute, time.Hour)
	if err != nil || !sess.LastSeenAt.After(old.Add(5*time.Minute)) {
		t.Fatalf("once the lock is gone: last seen %v (%v), want it touched", sess.LastSeenAt, err)
	}
}

// Client text that PostgreSQL's text type refuses (NUL, invalid UTF-8) or
// that is huge is cleaned, not allowed to break the login.
func TestSessionHostileUserAgent(t *testing.T) {
	st := storetest.New(t)
	u := addUser(t, st, "ada@example.com", store.RoleViewer)
	ua := "evil\x00agent\xff" + strings.Repeat("é", 1000)
	if _, err := st.CreateSession(ctx, u.ID, "198.51.100.1\x00", ua); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := st.DB().GetContext(ctx, &stored, `SELECT user_agent FROM sessions WHERE user_id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if len(stored) > 512 || !strings.HasPrefix(stored, "evil\uFFFDagent\uFFFDé") {
		t.Fatalf("stored user agent %q (%d bytes)", stored[:20], len(stored))
	}
}

// The epoch and disabled checks hold on their own, for a session that
// escaped the delete (say, made by a login racing the change).
func TestSessionEndedByEpochOrDisabledAlone(t *testing.T) {
	st := storetest.New(t)
	u := addUser(t, st, "ada@example.com", store.RoleViewer)
	tok := newSession(t, st, u.ID)
	if _, err := st.DB().ExecContext(ctx, `UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SessionUser(ctx, tok, time.Hour, time.Hour); !errors.Is(err, store.ErrSessionEnded) {
		t.Fatalf("stale epoch: %v, want ErrSessionEnded", err)
	}
	if n := sessionCount(t, st, u.ID); n != 0 {
		t.Fatalf("the ended session's row is still there (%d)", n)
	}

	tok = newSession(t, st, u.ID)
	if _, err := st.DB().ExecContext(ctx, `UPDATE users SET disabled = true WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SessionUser(ctx, tok, time.Hour, time.Hour); !errors.Is(err, store.ErrSessionEnded) {
		t.Fatalf("disabled user: %v, want ErrSessionEnded", err)
	}
}
