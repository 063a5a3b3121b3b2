package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one action to record: who did what to which object, with
// which parameters, and how it went.
type AuditEntry struct {
	ActorID         *int64         // the staff account, nil for the command line or an anonymous caller
	Actor           string         // the actor's email, "cli" or "anonymous"
	Action          string         // e.g. "login", "user.set_role", "refund.create"
	Target          string         // e.g. "user:5", "charge:ch_123"; "" for none
	Params          map[string]any // what was asked for; never secrets
	Outcome         string         // AuditOK, AuditFailed or AuditRefused
	StripeRequestID string         // the Stripe request the action made, if any
	RemoteAddr      string
}

// Audit outcomes.
const (
	AuditOK      = "ok"
	AuditFailed  = "failed"
	AuditRefused = "refused"
)

const recordAuditSQL = `
INSERT INTO audit_log (actor_id, actor, action, target, params, outcome, stripe_request_id, remote_addr)
VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6, NULLIF($7, ''), NULLIF($8, ''))`

// RecordAudit appends an entry to the audit log. Call it on the Store of
// the transaction that makes the change, so the entry commits or rolls
// back with it. There is no way to change or remove an entry: the table's
// trigger refuses UPDATE, DELETE and TRUNCATE.
func (s *Store) RecordAudit(ctx context.Context, e AuditEntry) error {
	if e.Actor == "" || e.Action == "" {
		return fmt.Errorf("store: record audit: actor and action are required")
	}
	switch e.Outcome {
	case AuditOK, AuditFailed, AuditRefused:
	default:
		return fmt.Errorf("store: record audit %s: unknown outcome %q", e.Action, e.Outcome)
	}
	params := []byte(`{}`)
	if e.Params != nil {
		var err error
		if params, err = json.Marshal(e.Params); err != nil {
			return fmt.Errorf("store: record audit %s: params: %w", e.Action, err)
		}
		params = replaceJSONNul(params)
	}
	if _, err := s.q.ExecContext(ctx, recordAuditSQL, e.ActorID, cleanText(e.Actor, 0), cleanText(e.Action, 0),
		cleanText(e.Target, 0), string(params), e.Outcome, cleanText(e.StripeRequestID, 0), cleanText(e.RemoteAddr, 0)); err != nil {
		return fmt.Errorf("store: record audit %s: %w", e.Action, err)
	}
	return nil
}

// replaceJSONNul turns each \u0000 escape in encoding/json's output into
// \ufffd: jsonb refuses NUL in strings, and an audit row that cannot be
// written fails the action it records. encoding/json writes a literal
// backslash as \\, so an escape is recognised by walking pairs.
func replaceJSONNul(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u0000`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 == len(b) {
			out = append(out, b[i])
			continue
		}
		if bytes.HasPrefix(b[i:], []byte(`\u0000`)) {
			out = append(out, `\ufffd`...)
			i += len(`\u0000`) - 1
			continue
		}
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}

// AuditRow is a stored audit entry.
type AuditRow struct {
	ID              int64           `db:"id"`
	At              time.Time       `db:"at"`
	ActorID         *int64          `db:"actor_id"`
	Actor           string          `db:"actor"`
	Action          string          `db:"action"`
	Target          *string         `db:"target"`
	Params          json.RawMessage `db:"params"`
	Outcome         string          `db:"outcome"`
	StripeRequestID *string         `db:"stripe_request_id"`
	RemoteAddr      *string         `db:"remote_addr"`
}

// AuditFilter selects audit entries. Empty fields match everything.
type AuditFilter struct {
	Actor  string    // exact
	Action string    // exact, or a prefix when it ends with "." ("user." matches "user.add")
	Target string    // exact
	From   time.Time // at or after; zero = open
	To     time.Time // before; zero = open
	Before int64     // keyset paging: only entries with id < Before; 0 = from the newest
	Limit  int       // default 50, at most 500
}

// Audit page sizes.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 500
)

// Each filter is "empty or matches". Every statement is planned for its
// actual parameters (plan_cache_mode=force_custom_plan, see Open), so the
// empty ones fold away and the matching index is used. Paging is by id,
// which unlike at is unique and never reorders.
const auditEntriesSQL = `
SELECT id, at, actor_id, actor, action, target, params, outcome, stripe_request_id, remote_addr
FROM audit_log
WHERE ($1::text = '' OR actor = $1)
  AND ($2::text = '' OR action = $2)
  AND ($3::text = '' OR starts_with(action, $3))
  AND ($4::text = '' OR target = $4)
  AND ($5::timestamptz IS NULL OR at >= $5)
  AND ($6::timestamptz IS NULL OR at < $6)
  AND ($7::bigint = 0 OR id < $7)
ORDER BY id DESC
LIMIT $8`

// AuditEntries returns the entries the filter selects, newest first. To
// read the next page, set Before to the last entry's ID.
func (s *Store) AuditEntries(ctx context.Context, f AuditFilter) ([]AuditRow, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)
	exact, prefix := f.Action, ""
	if strings.HasSuffix(f.Action, ".") {
		exact, prefix = "", f.Action
	}
	var from, to *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.To.IsZero() {
		to = &f.To
	}
	rows := []AuditRow{}
	if err := sqlxSelect(ctx, s, &rows, auditEntriesSQL, f.Actor, exact, prefix, f.Target, from, to, f.Before, limit); err != nil {
		return nil, fmt.Errorf("store: load audit entries: %w", err)
	}
	return rows, nil
}
