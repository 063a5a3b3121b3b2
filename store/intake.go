package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
	handoff  func([]Event)
	apply    IntakeApplier
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

// IntakeOptions configure NewIntake.
type IntakeOptions struct {
	// Writers is how many goroutines write, each holding at most one
	// database connection at a time (default 1).
	Writers int
	// MaxBatch is the most events one transaction takes (default 64).
	MaxBatch int
	// Handoff, when set, is given the new events of each committed write,
	// with their Object, so this process's workers can apply them without
	// reading them back. It must not block: the callers are still waiting
	// for their answers. The events are in the queue whether or not it
	// takes them.
	Handoff func([]Event)
	// Apply, when set, applies the new events of each write in the
	// transaction that stores them, so most events are settled before
	// they are acknowledged and never pass through the queue. Those it
	// leaves unsettled are stored queued and handed off as usual.
	Apply IntakeApplier
}

// IntakeApplier applies webhook events in the intake's own transaction.
// It must not call Stripe: the deliveries' answers wait on it.
type IntakeApplier interface {
	// ApplyNew applies what it can of events, none of them stored yet, in
	// tx, and returns an outcome (applied or ignored) for each event it
	// settled. The events without one are stored queued, for the workers.
	ApplyNew(ctx context.Context, tx *Store, events []Event) ([]EventOutcome, error)
	// Committed is told the outcomes of a transaction that committed.
	Committed(outcomes []EventOutcome)
	// RolledBack is told why a write that applied events failed; the
	// intake then stores the same events queued, without applying them.
	RolledBack(err error)
}

// NewIntake starts the writers.
func (s *Store) NewIntake(o IntakeOptions) *Intake {
	o.Writers, o.MaxBatch = max(o.Writers, 1), cmp.Or(o.MaxBatch, 64)
	in := &Intake{st: s, requests: make(chan *intakeRequest, o.Writers*o.MaxBatch), maxBatch: o.MaxBatch, handoff: o.Handoff, apply: o.Apply}
	for range o.Writers {
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
// within the batch is inserted once with both deliveries counted, and only
// the first of its callers is told it was new.
func (in *Intake) writeBatch(batch []*intakeRequest) {
	first := make(map[string]int, len(batch))
	events := make([]Event, 0, len(batch))
	deliveries := make([]int64, 0, len(batch))
	for _, req := range batch {
		if i, ok := first[req.event.ID]; ok {
			deliveries[i]++
			continue
		}
		first[req.event.ID] = len(events)
		events, deliveries = append(events, req.event), append(deliveries, 1)
	}
	var (
		inserted map[string]bool
		settled  map[string]EventOutcome
		err      error
	)
	if in.apply != nil {
		inserted, settled, err = in.writeApplied(events, deliveries)
		if err != nil {
			in.apply.RolledBack(err)
		}
	}
	if in.apply == nil || err != nil {
		settled = nil
		inserted, err = in.st.insertEvents(context.Background(), events, deliveries, true, nil)
	}
	if err != nil {
		err = fmt.Errorf("store: enqueue events: %w", err)
	}
	if err == nil && in.handoff != nil {
		var fresh []Event
		for _, e := range events {
			if _, done := settled[e.ID]; inserted[e.ID] && !done {
				fresh = append(fresh, e)
			}
		}
		if len(fresh) > 0 {
			in.handoff(fresh)
		}
	}
	told := make(map[string]bool, len(events))
	for _, req := range batch {
		id := req.event.ID
		req.err = err
		req.inserted = err == nil && inserted[id] && !told[id]
		told[id] = true
		close(req.done)
	}
}

// errIntakeRace fails a write that applied an event another writer stored
// meanwhile; the write is then done again without applying.
var errIntakeRace = errors.New("an event was stored by another writer while this one applied it")

// writeApplied stores events (distinct ids) in one transaction that also
// applies the new ones: it counts the deliveries of events already stored,
// has the applier apply the others, then inserts those with the outcomes
// the applier gave. It returns which events were new and the outcomes.
//
// The stored events are counted first, before any mirror row is locked: a
// worker may hold such an event while it waits for a mirror row, and
// waiting for it while holding mirror rows could deadlock.
func (in *Intake) writeApplied(events []Event, deliveries []int64) (map[string]bool, map[string]EventOutcome, error) {
	ctx := context.Background()
	var (
		inserted map[string]bool
		settled  map[string]EventOutcome
		outcomes []EventOutcome
	)
	err := in.st.InTx(ctx, func(tx *Store) error {
		known, err := tx.countRepeatDeliveries(ctx, events, deliveries)
		if err != nil {
			return err
		}
		var fresh []Event
		var freshDeliveries []int64
		for i, e := range events {
			if !known[e.ID] {
				fresh, freshDeliveries = append(fresh, e), append(freshDeliveries, deliveries[i])
			}
		}
		if outcomes, err = in.apply.ApplyNew(ctx, tx, fresh); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		settled = make(map[string]EventOutcome, len(outcomes))
		for _, o := range outcomes {
			settled[o.ID] = o
		}
		if inserted, err = tx.insertEvents(ctx, fresh, freshDeliveries, false, settled); err != nil {
			return err
		}
		if len(inserted) != len(fresh) {
			return errIntakeRace
		}
		for id := range known {
			inserted[id] = false
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	in.apply.Committed(outcomes)
	return inserted, settled, nil
}

// countRepeatDeliveries adds deliveries to those of events already stored
// and returns their ids.
func (s *Store) countRepeatDeliveries(ctx context.Context, events []Event, deliveries []int64) (map[string]bool, error) {
	order := idOrder(events)
	ids, counts := make([]string, len(events)), make([]int64, len(events))
	for i, j := range order {
		ids[i], counts[i] = events[j].ID, deliveries[j]
	}
	rows, err := s.queryHot(ctx, `
UPDATE events AS t SET deliveries = t.deliveries + u.n
FROM unnest($1::text[], $2::integer[]) AS u(id, n)
WHERE t.id = u.id
RETURNING t.id`, pq.Array(ids), pq.Array(counts))
	if err != nil {
		return nil, fmt.Errorf("count repeated deliveries: %w", err)
	}
	defer rows.Close()
	known := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		known[id] = true
	}
	return known, rows.Err()
}
