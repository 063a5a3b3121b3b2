package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
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
}

// NewIntake starts the writers.
func (s *Store) NewIntake(o IntakeOptions) *Intake {
	o.Writers, o.MaxBatch = max(o.Writers, 1), cmp.Or(o.MaxBatch, 64)
	in := &Intake{st: s, requests: make(chan *intakeRequest, o.Writers*o.MaxBatch), maxBatch: o.MaxBatch, handoff: o.Handoff}
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
	inserted, err := in.st.insertEvents(context.Background(), events, deliveries, true)
	if err != nil {
		err = fmt.Errorf("store: enqueue events: %w", err)
	}
	if err == nil && in.handoff != nil {
		fresh := events[:0]
		for _, e := range events {
			if inserted[e.ID] {
				fresh = append(fresh, e)
			}
		}
		in.handoff(fresh)
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
