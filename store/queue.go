package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"
)

// ClaimEvents locks up to limit events that are due (queued, or failed and
// past their retry time), oldest first, and returns them with Object (the
// event's data.object, cut out by PostgreSQL) instead of Data. Call it inside
// InTx: the rows stay locked until the transaction ends, and other workers,
// in this process or another replica, skip them (FOR UPDATE SKIP LOCKED).
func (s *Store) ClaimEvents(ctx context.Context, limit int) ([]Event, error) {
	var events []Event
	st, err := s.prepared(ctx, claimEventsSQL)
	if err != nil {
		return nil, fmt.Errorf("store: claim events: %w", err)
	}
	err = st.SelectContext(ctx, &events, limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim events: %w", err)
	}
	return events, nil
}

const claimEventsSQL = `
SELECT id, type, api_version, created, livemode, object_type, object_id, data->'data'->'object' AS object,
       source, deliveries, status, note, attempts, last_error, next_attempt_at, received_at, applied_at
FROM events
WHERE status IN ('queued', 'failed') AND next_attempt_at <= now()
ORDER BY next_attempt_at, received_at
LIMIT $1
FOR UPDATE SKIP LOCKED`

// ClaimQueuedEvents locks those of ids that are still queued, due (not
// leased to a worker fetching their object from Stripe) and not locked by
// another worker, and returns them. A worker that already holds
// the events (handed over by the intake) claims them this way, without
// reading them back. Call it inside InTx, like ClaimEvents.
func (s *Store) ClaimQueuedEvents(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := s.queryHot(ctx, `SELECT id FROM events
WHERE id = ANY($1::text[]) AND status = 'queued' AND next_attempt_at <= now()
ORDER BY id FOR UPDATE SKIP LOCKED`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("store: claim events: %w", err)
	}
	defer rows.Close()
	claimed := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: claim events: %w", err)
		}
		claimed[id] = true
	}
	return claimed, rows.Err()
}

// EventOutcome is what became of one claimed event.
type EventOutcome struct {
	ID     string
	Status string // applied, ignored or failed
	Note   string // why, in a few words ("older than the stored version", ...)
	Error  string // for failed: the error, safe to show an admin
	// RetryAt is when a failed event is tried again.
	RetryAt time.Time
}

// FinishEvents records the outcome of claimed events in one statement.
func (s *Store) FinishEvents(ctx context.Context, outcomes []EventOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	n := len(outcomes)
	ids, statuses, notes, errs := make([]string, n), make([]string, n), make([]*string, n), make([]*string, n)
	retries := make([]int64, n)
	for i, o := range outcomes {
		ids[i], statuses[i] = o.ID, o.Status
		if o.Note != "" {
			notes[i] = &outcomes[i].Note
		}
		if o.Error != "" {
			errs[i] = &outcomes[i].Error
		}
		retries[i] = o.RetryAt.UnixMilli()
	}
	_, err := s.execHot(ctx, `
UPDATE events AS e SET
    status = u.status,
    note = u.note,
    last_error = u.error,
    attempts = e.attempts + 1,
    next_attempt_at = CASE WHEN u.status = 'failed' THEN to_timestamp(u.retry_ms / 1000.0) ELSE e.next_attempt_at END,
    applied_at = CASE WHEN u.status = 'failed' THEN NULL ELSE now() END
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS u(id, status, note, error, retry_ms)
WHERE e.id = u.id`,
		pq.Array(ids), pq.Array(statuses), pq.Array(notes), pq.Array(errs), pq.Array(retries))
	if err != nil {
		return fmt.Errorf("store: finish events: %w", err)
	}
	return nil
}

// LeaseEvents keeps claimed events from being claimed again until until,
// without counting an attempt: the worker holds them while it fetches their
// objects from Stripe outside any transaction. If the worker dies, they
// are due again when the lease ends.
func (s *Store) LeaseEvents(ctx context.Context, ids []string, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.execHot(ctx, `UPDATE events SET next_attempt_at = $2, note = 'awaiting a re-fetch from Stripe' WHERE id = ANY($1::text[])`,
		pq.Array(ids), until); err != nil {
		return fmt.Errorf("store: lease events: %w", err)
	}
	return nil
}

// mirrorTables are the tables StoredVersions and Notify may name.
var mirrorTables = []string{"customers", "invoices", "charges", "refunds"}

// StoredVersions returns the stored version of each id of table that
// exists.
func (s *Store) StoredVersions(ctx context.Context, table string, ids []string) (map[string]int64, error) {
	if !slices.Contains(mirrorTables, table) {
		return nil, fmt.Errorf("store: stored versions: unknown table %q", table)
	}
	rows, err := s.queryHot(ctx, `SELECT id, version FROM `+table+` WHERE id = ANY($1::text[])`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("store: stored versions of %s: %w", table, err)
	}
	defer rows.Close()
	out := make(map[string]int64, len(ids))
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("store: stored versions of %s: %w", table, err)
		}
		out[id] = v
	}
	return out, rows.Err()
}

// MarkInvoiceDeleted turns a stored invoice into a tombstone at version,
// unless a newer state is stored. It reports whether it changed the row.
func (s *Store) MarkInvoiceDeleted(ctx context.Context, id string, version int64) (bool, error) {
	res, err := s.q.ExecContext(ctx, `
UPDATE invoices SET deleted = true, version = $2, data = data || '{"deleted": true}', synced_at = now()
WHERE id = $1 AND version <= $2`, id, version)
	if err != nil {
		return false, fmt.Errorf("store: mark invoice %s deleted: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ChangesChannel is the PostgreSQL NOTIFY channel on which every change the
// event worker applies to the mirror is announced. The payload is a JSON
// object: {"table":"charges","id":"ch_...","livemode":false}. Listeners in
// every replica receive it once the change has committed.
const ChangesChannel = "paydesk_changes"

// Change names one changed mirror row.
type Change struct {
	Table    string `json:"table"`
	ID       string `json:"id"`
	Livemode bool   `json:"livemode"`
}

// Notify announces changes on ChangesChannel. Inside a transaction the
// notifications are sent when it commits, and not at all if it rolls back.
func (s *Store) Notify(ctx context.Context, changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	payloads := make([]string, len(changes))
	for i, c := range changes {
		if !slices.Contains(mirrorTables, c.Table) {
			return fmt.Errorf("store: notify: unknown table %q", c.Table)
		}
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		payloads[i] = string(b)
	}
	if _, err := s.execHot(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p`, ChangesChannel, pq.Array(payloads)); err != nil {
		return fmt.Errorf("store: notify: %w", err)
	}
	return nil
}
