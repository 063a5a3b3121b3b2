// Package apply applies queued Stripe events to the mirror: the event
// worker that `paydesk serve` runs.
//
// Ordering rule. Each mirrored row carries the version (Unix second) its
// state is known to be current at. An event created in second S applies
// only if S is strictly newer than the stored version. If S is older, the
// event is stale and changes nothing. If S equals the stored version, or two
// events of one object in the batch share the newest second, nobody can
// tell which state is the later one (Stripe's created has one-second
// resolution), so the worker fetches the object from Stripe again and
// stores that: the API always returns the latest state, which is never
// older than any event. The comparison happens inside the upsert statement
// (store.Apply*), so two workers cannot both believe they hold the newest
// state. Deleted customers and invoices stay deleted.
package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"paydesk/store"
	"paydesk/stripeapi"
)

// Options tune a Worker.
type Options struct {
	// Batch is how many events one transaction claims (default 200).
	Batch int
	// Idle is how long an idle worker waits before looking again (default
	// 100ms).
	Idle time.Duration
	// Feed, when set, brings events straight from this process's webhook
	// intake; the worker applies those first.
	Feed *Feed
	Log  *slog.Logger
	// Monitor, when set, is told when the worker runs, each round it
	// finishes and the outcomes it commits (for /readyz and /metrics).
	Monitor *Monitor
}

// Worker drains the event queue. Any number of workers, in one process or
// in several replicas, can run against one database.
type Worker struct {
	st    *store.Store
	api   *stripeapi.Client
	o     Options
	state *workerState // nil without a Monitor
}

// NewWorker makes a worker. api re-fetches objects when an event alone
// cannot decide (see the package doc); with a nil api such events fail and
// are retried.
func NewWorker(st *store.Store, api *stripeapi.Client, o Options) *Worker {
	if o.Batch <= 0 {
		o.Batch = 200
	}
	if o.Idle <= 0 {
		o.Idle = 100 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Worker{st: st, api: api, o: o, state: o.Monitor.register()}
}

// Run applies events until ctx ends: those the feed brings first, then
// those due in the queue. A batch in hand when ctx ends is finished (or
// rolled back) first, so stopping never leaves half a batch.
func (w *Worker) Run(ctx context.Context) error {
	w.state.start()
	defer w.state.stop()
	failures := 0
	var fed []store.Event
	for ctx.Err() == nil {
		work := context.WithoutCancel(ctx)
		if fed = w.o.Feed.gather(fed, w.o.Batch, feedLinger); len(fed) > 0 {
			if _, err := w.runFed(work, fed); err != nil {
				// They are still queued; the queue path below retries them,
				// one by one if need be.
				w.o.Log.Warn("event worker: batch from the intake failed; its events stay queued", "events", len(fed), "err", err)
			} else {
				w.state.beat()
			}
			fed = fed[:0]
			continue
		}
		n, err := w.RunOnce(work)
		wait := time.Duration(0)
		switch {
		case err != nil:
			// Usually the database is away; look again soon, since events
			// pile up meanwhile, but not in a tight loop.
			failures++
			wait = min(100*time.Millisecond<<min(failures, 6), 5*time.Second)
			w.o.Log.Error("event worker: batch failed", "err", err, "retry_in", wait)
		case n == 0:
			failures = 0
			wait = w.o.Idle
			w.state.beat()
		case n < w.o.Batch/4 && w.o.Feed == nil:
			// A short batch means the queue is nearly drained: let a few
			// more events gather, so each transaction carries more of
			// them. This adds at most gatherDelay to an event's apply.
			failures = 0
			wait = gatherDelay
			w.state.beat()
		default:
			failures = 0
			w.state.beat()
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			case e := <-w.o.Feed.events():
				fed = append(fed, e)
			}
		}
	}
	return nil
}

// RunOnce claims one batch of due events and applies it in one
// transaction. It returns how many events it handled. If the batch fails as
// a whole, its events are retried one per transaction, so one event that
// breaks its transaction cannot hold up the others: it alone is marked
// failed and retried later with backoff.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	n, err := w.runBatch(ctx, w.o.Batch)
	if err == nil || n <= 1 {
		if err != nil && n == 1 {
			return n, w.failLoneEvent(ctx, err)
		}
		return n, err
	}
	w.o.Log.Warn("event worker: batch failed; retrying its events one by one", "events", n, "err", err)
	for i := 0; i < n; i++ {
		one, err := w.runBatch(ctx, 1)
		if one == 0 {
			break
		}
		if err != nil {
			if ferr := w.failLoneEvent(ctx, err); ferr != nil {
				return i, ferr
			}
		}
	}
	return n, nil
}

// failLoneEvent marks the next due event failed after its own transaction
// failed with cause.
func (w *Worker) failLoneEvent(ctx context.Context, cause error) error {
	var committed tally
	err := w.st.InTx(ctx, func(tx *store.Store) error {
		committed = tally{}
		events, err := tx.ClaimEvents(ctx, 1)
		if err != nil || len(events) == 0 {
			return err
		}
		e := events[0]
		w.o.Log.Error("event worker: event failed", "event", e.ID, "type", e.Type, "err", cause)
		committed.Failed = 1
		return tx.FinishEvents(ctx, []store.EventOutcome{{ID: e.ID, Status: store.EventFailed,
			Error: cause.Error(), RetryAt: time.Now().Add(backoff(e.Attempts + 1))}})
	})
	if err == nil {
		w.o.Monitor.add(committed)
	}
	return err
}

// gatherDelay is the pause after a short batch from the queue, feedLinger
// the longest a worker waits for the feed to fill a short batch.
const (
	gatherDelay = 20 * time.Millisecond
	feedLinger  = 10 * time.Millisecond
)

// refetchLease is how long events wait for their objects to be fetched
// from Stripe before another worker may take them over; the fetching
// worker renews it every leaseRenewal, so only a dead worker's events wait
// it out.
const (
	refetchLease = 10 * time.Second
	leaseRenewal = 3 * time.Second
)

// runBatch claims up to limit events and applies them in one transaction.
// Targets that only Stripe can settle are fetched after that transaction
// commits, their events leased meanwhile, and stored in a second one: no
// transaction waits on Stripe while holding locks.
func (w *Worker) runBatch(ctx context.Context, limit int) (int, error) {
	return w.claimAndApply(ctx, func(tx *store.Store) ([]store.Event, error) {
		return tx.ClaimEvents(ctx, limit)
	})
}

// runFed applies events the feed brought: it claims those still queued
// and not held by another worker, and applies them like runBatch.
func (w *Worker) runFed(ctx context.Context, events []store.Event) (int, error) {
	return w.claimAndApply(ctx, func(tx *store.Store) ([]store.Event, error) {
		ids := make([]string, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		claimed, err := tx.ClaimQueuedEvents(ctx, ids)
		if err != nil {
			return nil, err
		}
		var out []store.Event
		for _, e := range events {
			if claimed[e.ID] {
				out = append(out, e)
			}
		}
		return out, nil
	})
}

// claimAndApply claims events with claim and applies them in one
// transaction (see runBatch).
func (w *Worker) claimAndApply(ctx context.Context, claim func(tx *store.Store) ([]store.Event, error)) (int, error) {
	var n int
	var b *batch
	var committed tally
	err := w.st.InTx(ctx, func(tx *store.Store) error {
		committed = tally{}
		events, err := claim(tx)
		if err != nil {
			return err
		}
		n = len(events)
		if n == 0 {
			return nil
		}
		b = newBatch(events, w.api)
		if err := b.applyEvents(ctx, tx); err != nil {
			return err
		}
		if err := tx.LeaseEvents(ctx, b.refetchEventIDs(), time.Now().Add(refetchLease)); err != nil {
			return err
		}
		committed.count(b.outcomes)
		return b.commitOutcomes(ctx, tx)
	})
	if err == nil {
		w.o.Monitor.add(committed)
	}
	if err != nil || b == nil || len(b.refetchEventIDs()) == 0 {
		return n, err
	}
	leased := b.refetchEventIDs()
	stopRenewing := w.renewLease(ctx, leased)
	defer stopRenewing()
	fetched := b.fetchAll(ctx)
	// What Stripe returned stays safe to store later (it is never older
	// than the stored state), so a failure here, usually the database
	// being away, is retried for a while rather than left to the lease.
	deadline := time.Now().Add(time.Minute)
	for attempt := 0; ; attempt++ {
		b.changes, b.outcomes = nil, nil
		committed = tally{}
		err = w.st.InTx(ctx, func(tx *store.Store) error {
			if err := b.storeFetched(ctx, tx, fetched); err != nil {
				return err
			}
			committed.count(b.outcomes)
			return b.commitOutcomes(ctx, tx)
		})
		if err == nil {
			w.o.Monitor.add(committed)
		}
		if err == nil || time.Now().After(deadline) {
			return n, err
		}
		w.o.Log.Warn("event worker: storing re-fetched objects failed; retrying", "err", err)
		time.Sleep(min(100*time.Millisecond<<min(attempt, 6), 5*time.Second))
	}
}

// renewLease keeps ids leased until the returned func is called.
func (w *Worker) renewLease(ctx context.Context, ids []string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(leaseRenewal)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := w.st.LeaseEvents(ctx, ids, time.Now().Add(refetchLease)); err != nil {
					w.o.Log.Warn("event worker: cannot renew a lease", "err", err)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// backoff is the wait before retry number attempt: doubling from one
// second, at most an hour, with jitter so failed events spread out.
func backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 12)
	d = min(d, time.Hour)
	return d/2 + rand.N(d/2+1)
}

// errNoAPI fails events that need Stripe when no client is configured.
var errNoAPI = errors.New("this event needs the object fetched from Stripe, but no Stripe key is configured")

func safeError(err error) string {
	var se *stripeapi.Error
	if errors.As(err, &se) {
		return se.Error()
	}
	return fmt.Sprint(err)
}
