package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Event is a Stripe event in the queue (the events table). Data is the
// whole event as delivered.
type Event struct {
	ID         string          `db:"id"`
	Type       string          `db:"type"`
	APIVersion *string         `db:"api_version"`
	Created    int64           `db:"created"`
	Livemode   bool            `db:"livemode"`
	ObjectType *string         `db:"object_type"`
	ObjectID   *string         `db:"object_id"`
	Data       json.RawMessage `db:"data"`
	// Object is data.object, filled by ClaimEvents instead of Data.
	Object        json.RawMessage `db:"object"`
	Source        string          `db:"source"`
	Deliveries    int             `db:"deliveries"`
	Status        string          `db:"status"`
	Note          *string         `db:"note"`
	Attempts      int             `db:"attempts"`
	LastError     *string         `db:"last_error"`
	NextAttemptAt time.Time       `db:"next_attempt_at"`
	ReceivedAt    time.Time       `db:"received_at"`
	AppliedAt     *time.Time      `db:"applied_at"`
}

// Event statuses.
const (
	EventQueued  = "queued"
	EventApplied = "applied"
	EventIgnored = "ignored"
	EventFailed  = "failed"
)

// Event sources.
const (
	SourceWebhook = "webhook"
	SourceCatchup = "catchup"
)

// EnqueueEvent stores a verified event for the workers and reports whether
// it was new. A second delivery of a stored event only counts the delivery.
// When it returns nil the event is durable: the caller may acknowledge it.
func (s *Store) EnqueueEvent(ctx context.Context, e Event) (bool, error) {
	inserted, err := s.insertEvents(ctx, []Event{e}, []int64{1}, true)
	if err != nil {
		return false, fmt.Errorf("store: enqueue event %s: %w", e.ID, err)
	}
	return inserted[e.ID], nil
}

// EnqueueMissingEvents stores those of events not stored yet (catch-up) and
// returns how many were new. Events already stored are left untouched.
func (s *Store) EnqueueMissingEvents(ctx context.Context, events []Event) (int, error) {
	inserted, err := s.insertEvents(ctx, events, make([]int64, len(events)), false)
	if err != nil {
		return 0, fmt.Errorf("store: enqueue missing events: %w", err)
	}
	return len(inserted), nil
}

// insertEvents writes events (distinct ids), each with its count of
// deliveries, in one statement, and returns the ids it wrote mapped to
// whether they were new. With countRepeats an event already stored has
// its deliveries added; otherwise it is left alone and not returned. Rows go
// in id order, so concurrent writers whose batches share events lock them
// in the same order and wait for each other instead of deadlocking.
func (s *Store) insertEvents(ctx context.Context, events []Event, deliveries []int64, countRepeats bool) (map[string]bool, error) {
	out := make(map[string]bool, len(events))
	if len(events) == 0 {
		return out, nil
	}
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(events[a].ID, events[b].ID) })
	n := len(events)
	var (
		ids, types, sources        = make([]string, n), make([]string, n), make([]string, n)
		versions, objTypes, objIDs = make([]*string, n), make([]*string, n), make([]*string, n)
		createds, counts           = make([]int64, n), make([]int64, n)
		livemodes                  = make([]bool, n)
		size                       = 2
	)
	for _, e := range events {
		size += len(e.Data) + 1
	}
	// The events' bodies travel as one JSON array, written by joining
	// them: as a text[] every quote in them was escaped by the driver and
	// unescaped by the server, which then read each body once more as
	// JSON. A body that is not JSON spoils the array and fails the batch,
	// as its cast to json did.
	datas := make([]byte, 0, size)
	datas = append(datas, '[')
	for i, j := range order {
		e := events[j]
		if len(e.Data) == 0 {
			return nil, fmt.Errorf("event %s has no body", e.ID)
		}
		if i > 0 {
			datas = append(datas, ',')
		}
		ids[i], types[i], sources[i], datas = e.ID, e.Type, e.Source, append(datas, e.Data...)
		versions[i], objTypes[i], objIDs[i], createds[i], livemodes[i] = e.APIVersion, e.ObjectType, e.ObjectID, e.Created, e.Livemode
		counts[i] = deliveries[j]
	}
	datas = append(datas, ']')
	query := insertEventsSQL + `ON CONFLICT (id) DO NOTHING RETURNING t.id, true`
	if countRepeats {
		query = insertEventsSQL + `ON CONFLICT (id) DO UPDATE SET deliveries = t.deliveries + EXCLUDED.deliveries RETURNING t.id, (xmax = 0)`
	}
	rows, err := s.queryHot(ctx, query,
		pq.Array(ids), pq.Array(types), pq.Array(versions), pq.Array(createds), pq.Array(livemodes),
		pq.Array(objTypes), pq.Array(objIDs), string(datas), pq.Array(sources), pq.Array(counts))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var fresh bool
		if err := rows.Scan(&id, &fresh); err != nil {
			return nil, err
		}
		out[id] = fresh
	}
	return out, rows.Err()
}

const insertEventsSQL = `
INSERT INTO events AS t (id, type, api_version, created, livemode, object_type, object_id, data, source, deliveries)
SELECT u.id, u.type, u.api_version, u.created, u.livemode, u.object_type, u.object_id, u.data, u.source, u.deliveries
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::text[], $7::text[],
            ARRAY(SELECT e FROM json_array_elements($8::json) WITH ORDINALITY AS a (e, n) ORDER BY n), $9::text[], $10::integer[])
     AS u(id, type, api_version, created, livemode, object_type, object_id, data, source, deliveries)
`

// NewestEventCreated returns the created time of the newest stored event of
// the mode, or 0 when there is none.
func (s *Store) NewestEventCreated(ctx context.Context, livemode bool) (int64, error) {
	var created int64
	if err := sqlxGet(ctx, s, &created, `SELECT coalesce(max(created), 0) FROM events WHERE livemode = $1`, livemode); err != nil {
		return 0, fmt.Errorf("store: newest event: %w", err)
	}
	return created, nil
}

// RecordRejectedDelivery keeps a webhook delivery that failed verification.
func (s *Store) RecordRejectedDelivery(ctx context.Context, reason, remoteAddr string, body []byte) error {
	const keep = 4 << 10
	if len(body) > keep {
		body = body[:keep]
	}
	if _, err := s.q.ExecContext(ctx, `INSERT INTO rejected_deliveries (reason, remote_addr, body) VALUES ($1, $2, $3)`,
		reason, remoteAddr, body); err != nil {
		return fmt.Errorf("store: record rejected delivery: %w", err)
	}
	return nil
}

// Event returns one stored event, or ErrNotFound.
func (s *Store) Event(ctx context.Context, id string) (Event, error) {
	var e Event
	err := sqlxGet(ctx, s, &e, `SELECT * FROM events WHERE id = $1`, id)
	if isNoRows(err) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("store: load event %s: %w", id, err)
	}
	return e, nil
}
