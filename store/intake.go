package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/lib/pq"
)

// Intake stores verified webhook events with group commit: deliveries that
// arrive while a write is in progress are written together, in one INSERT
// and one commit, and each caller returns once its own event is durable.
// Under load this turns many small transactions into a few larger ones
// (less work for PostgreSQL per event, the same durability); a lone
// delivery is written at once, with no waiting for company.
type Intake struct {
	st       *Store
	requests chan *intakeRequest
	maxBatch int
	wg       sync.WaitGroup
	// mu guards closed and the sending side of requests: senders hold it
	// for reading while they send, Close for writing while it closes.
	mu     sync.RWMutex
	closed bool
}

type intakeRequest struct {
	event    Event
	inserted bool
	err      error
	done     chan struct{}
}

// ErrIntakeClosed is returned for deliveries after Close.
var ErrIntakeClosed = errors.New("store: intake closed")

// NewIntake starts writers goroutines, each holding at most one database
// connection at a time, that write up to maxBatch events per transaction.
func (s *Store) NewIntake(writers, maxBatch int) *Intake {
	in := &Intake{st: s, requests: make(chan *intakeRequest, writers*maxBatch), maxBatch: maxBatch}
	for range writers {
		in.wg.Add(1)
		go in.write()
	}
	return in
}

// EnqueueEvent stores e for the workers and reports whether it was new; a
// repeated delivery only counts itself. When it returns nil the event is
// committed: the caller may acknowledge it.
func (in *Intake) EnqueueEvent(ctx context.Context, e Event) (bool, error) {
	req := &intakeRequest{event: e, done: make(chan struct{})}
	in.mu.RLock()
	if in.closed {
		in.mu.RUnlock()
		return false, ErrIntakeClosed
	}
	select {
	case in.requests <- req:
		in.mu.RUnlock()
	case <-ctx.Done():
		in.mu.RUnlock()
		return false, ctx.Err()
	}
	select {
	case <-req.done:
		return req.inserted, req.err
	case <-ctx.Done():
		// The write may still commit; the sender was not told so and
		// will deliver again, which is then a counted duplicate.
		return false, ctx.Err()
	}
}

// RecordRejectedDelivery keeps a delivery that failed verification.
func (in *Intake) RecordRejectedDelivery(ctx context.Context, reason, remoteAddr string, body []byte) error {
	return in.st.RecordRejectedDelivery(ctx, reason, remoteAddr, body)
}

// Close stops taking deliveries, writes those already taken and waits for
// the writers to finish.
func (in *Intake) Close() {
	in.mu.Lock()
	if !in.closed {
		in.closed = true
		close(in.requests)
	}
	in.mu.Unlock()
	in.wg.Wait()
}

func (in *Intake) write() {
	defer in.wg.Done()
	batch := make([]*intakeRequest, 0, in.maxBatch)
	for req := range in.requests {
		batch = append(batch[:0], req)
		// Take whatever else is already waiting, without waiting for more.
	fill:
		for len(batch) < in.maxBatch {
			select {
			case more, ok := <-in.requests:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			default:
				break fill
			}
		}
		in.writeBatch(batch)
	}
}

// writeBatch inserts a batch in one statement. An event delivered twice
// within the batch is inserted once with both deliveries counted.
func (in *Intake) writeBatch(batch []*intakeRequest) {
	// Rows go in id order, so writers whose batches share events lock them
	// in the same order and wait for each other instead of deadlocking.
	sorted := slices.SortedFunc(slices.Values(batch), func(a, b *intakeRequest) int { return strings.Compare(a.event.ID, b.event.ID) })
	first := make(map[string]int, len(batch))
	var (
		ids, types, datas, sources []string
		versions, objTypes, objIDs []*string
		createds                   []int64
		livemodes                  []bool
		deliveries                 []int64
	)
	for _, req := range sorted {
		e := req.event
		if i, ok := first[e.ID]; ok {
			deliveries[i]++
			continue
		}
		first[e.ID] = len(ids)
		ids, types, datas, sources = append(ids, e.ID), append(types, e.Type), append(datas, string(e.Data)), append(sources, e.Source)
		versions, objTypes, objIDs = append(versions, e.APIVersion), append(objTypes, e.ObjectType), append(objIDs, e.ObjectID)
		createds, livemodes, deliveries = append(createds, e.Created), append(livemodes, e.Livemode), append(deliveries, 1)
	}
	inserted := make(map[string]bool, len(ids))
	err := func() error {
		rows, err := in.st.queryHot(context.Background(), `
INSERT INTO events AS t (id, type, api_version, created, livemode, object_type, object_id, data, source, deliveries)
SELECT u.id, u.type, u.api_version, u.created, u.livemode, u.object_type, u.object_id, u.data::json, u.source, u.deliveries
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::text[], $7::text[], $8::text[], $9::text[], $10::integer[])
     AS u(id, type, api_version, created, livemode, object_type, object_id, data, source, deliveries)
ON CONFLICT (id) DO UPDATE SET deliveries = t.deliveries + EXCLUDED.deliveries
RETURNING t.id, (xmax = 0)`,
			pq.Array(ids), pq.Array(types), pq.Array(versions), pq.Array(createds), pq.Array(livemodes),
			pq.Array(objTypes), pq.Array(objIDs), pq.Array(datas), pq.Array(sources), pq.Array(deliveries))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var fresh bool
			if err := rows.Scan(&id, &fresh); err != nil {
				return err
			}
			inserted[id] = fresh
		}
		return rows.Err()
	}()
	if err != nil {
		err = fmt.Errorf("store: enqueue events: %w", err)
	}
	seen := make(map[string]bool, len(ids))
	for _, req := range sorted {
		id := req.event.ID
		req.err = err
		// Only the first of repeated deliveries in one batch is "new".
		req.inserted = err == nil && inserted[id] && !seen[id]
		seen[id] = true
		close(req.done)
	}
}
