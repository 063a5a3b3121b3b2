package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

func intakeEvent(id string) store.Event {
	obj := "customer"
	return store.Event{ID: id, Type: "customer.updated", Created: 1700000000, ObjectType: &obj, ObjectID: &id,
		Data:   json.RawMessage("{ \"id\" : \"" + id + "\",\n\t\"object\":\"event\", \"note\":\"" + hostile + `", "escaped": "a\"b\\c\u00e9\/" , "n": [1.50, -0, 2e3] }`),
		Source: store.SourceWebhook}
}

// 32 senders deliver 50 events each, every event twice: each event is
// stored once, with both deliveries counted, exactly one caller is told it
// was new, and each raw body is kept byte for byte with its own event.
func TestIntakeGroupCommit(t *testing.T) {
	st := storetest.New(t)
	in := st.NewIntake(store.IntakeOptions{Writers: 3, MaxBatch: 16})
	defer in.Close()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fresh = map[string]int{}
	)
	for s := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := fmt.Sprintf("evt_%d", (s/2)*50+i) // senders 2k and 2k+1 deliver the same events
				inserted, err := in.EnqueueEvent(ctx, intakeEvent(id))
				if err != nil {
					t.Error(err)
					return
				}
				if inserted {
					mu.Lock()
					fresh[id]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	var got struct {
		Events     int `db:"events"`
		Deliveries int `db:"deliveries"`
	}
	if err := st.DB().GetContext(ctx, &got, `SELECT count(*) AS events, sum(deliveries) AS deliveries FROM events`); err != nil {
		t.Fatal(err)
	}
	if got.Events != 800 || got.Deliveries != 1600 || len(fresh) != 800 {
		t.Fatalf("got %+v and %d new, want 800 events, 1600 deliveries, 800 new", got, len(fresh))
	}
	for id, n := range fresh {
		if n != 1 {
			t.Fatalf("%s reported new %d times", id, n)
		}
	}
	var misplaced int
	if err := st.DB().GetContext(ctx, &misplaced, `SELECT count(*) FROM events WHERE data->>'id' <> id`); err != nil || misplaced != 0 {
		t.Fatalf("%d events stored with another event's body (%v)", misplaced, err)
	}
	e, err := st.Event(ctx, "evt_7")
	if err != nil || string(e.Data) != string(intakeEvent("evt_7").Data) {
		t.Fatalf("stored body %s (%v), want it byte for byte", e.Data, err)
	}
}

func TestIntakeReportsDatabaseErrors(t *testing.T) {
	url := storetest.URL(t)
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	in := st.NewIntake(store.IntakeOptions{MaxBatch: 8})
	defer in.Close()
	st.Close() // the database is gone
	if _, err := in.EnqueueEvent(ctx, intakeEvent("evt_lost")); err == nil {
		t.Fatal("an event was acknowledged that could not be stored")
	}
	in.Close()
	if _, err := in.EnqueueEvent(ctx, intakeEvent("evt_late")); err != store.ErrIntakeClosed {
		t.Fatalf("after Close: %v", err)
	}
}

// testApplier settles the events its settle func picks, writing a
// customer row for each in the intake's transaction, and records what it
// is told.
type testApplier struct {
	// before, when set, runs first in ApplyNew; an error from it fails the
	// write.
	before     func(tx *store.Store, events []store.Event) error
	mu         sync.Mutex
	given      []string
	committed  []store.EventOutcome
	rolledBack []error
}

func (a *testApplier) ApplyNew(ctx context.Context, tx *store.Store, events []store.Event) ([]store.EventOutcome, error) {
	a.mu.Lock()
	for _, e := range events {
		a.given = append(a.given, e.ID)
	}
	a.mu.Unlock()
	var out []store.EventOutcome
	for _, e := range events {
		if strings.HasPrefix(e.ID, "evt_later") {
			continue // left queued
		}
		if _, err := tx.UpsertCustomers(ctx, []store.Customer{customer("cus_"+e.ID, e.Created, "applied on arrival")}); err != nil {
			return nil, err
		}
		out = append(out, store.EventOutcome{ID: e.ID, Status: store.EventApplied, Note: "applied on arrival"})
	}
	if a.before != nil {
		if err := a.before(tx, events); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (a *testApplier) Committed(outcomes []store.EventOutcome) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.committed = append(a.committed, outcomes...)
}

func (a *testApplier) RolledBack(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rolledBack = append(a.rolledBack, err)
}

type storedEvent struct {
	ID         string     `db:"id"`
	Status     string     `db:"status"`
	Note       *string    `db:"note"`
	Attempts   int        `db:"attempts"`
	Deliveries int        `db:"deliveries"`
	AppliedAt  *time.Time `db:"applied_at"`
}

func storedEvents(t *testing.T, st *store.Store) map[string]storedEvent {
	t.Helper()
	var rows []storedEvent
	if err := st.DB().SelectContext(ctx, &rows, `SELECT id, status, note, attempts, deliveries, applied_at FROM events`); err != nil {
		t.Fatal(err)
	}
	out := map[string]storedEvent{}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out
}

func customerCount(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.DB().GetContext(ctx, &n, `SELECT count(*) FROM customers`); err != nil {
		t.Fatal(err)
	}
	return n
}

// An event the applier settles is stored applied, with one attempt and
// its note, in the transaction that applied it, and is not handed off;
// one it leaves is stored queued and handed off. A repeated delivery
// only counts itself: the applier never sees it again.
func TestIntakeAppliesOnArrival(t *testing.T) {
	st := storetest.New(t)
	a := &testApplier{}
	var mu sync.Mutex
	var handed []string
	in := st.NewIntake(store.IntakeOptions{Apply: a, Handoff: func(events []store.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			handed = append(handed, e.ID)
		}
	}})
	defer in.Close()
	for _, id := range []string{"evt_now", "evt_later", "evt_now"} {
		if _, err := in.EnqueueEvent(ctx, intakeEvent(id)); err != nil {
			t.Fatal(err)
		}
	}
	got := storedEvents(t, st)
	now, later := got["evt_now"], got["evt_later"]
	if now.Status != store.EventApplied || now.Attempts != 1 || now.AppliedAt == nil || now.Note == nil || *now.Note != "applied on arrival" || now.Deliveries != 2 {
		t.Fatalf("settled event stored as %+v", now)
	}
	if later.Status != store.EventQueued || later.Attempts != 0 || later.AppliedAt != nil || later.Note != nil {
		t.Fatalf("unsettled event stored as %+v", later)
	}
	if fmt.Sprint(a.given) != "[evt_now evt_later]" || fmt.Sprint(handed) != "[evt_later]" {
		t.Fatalf("applier was given %v, handed off %v", a.given, handed)
	}
	if len(a.committed) != 1 || a.committed[0].ID != "evt_now" || len(a.rolledBack) != 0 || customerCount(t, st) != 1 {
		t.Fatalf("committed %+v, rolled back %v, %d customers", a.committed, a.rolledBack, customerCount(t, st))
	}
	var queued int
	if err := st.DB().GetContext(ctx, &queued, `SELECT count(*) FROM events WHERE status IN ('queued', 'failed')`); err != nil || queued != 1 {
		t.Fatalf("%d events in the queue (%v), want 1", queued, err)
	}
}

// When applying fails, nothing it wrote stays, and the events are stored
// queued all the same: the delivery is still acknowledged.
func TestIntakeStoresQueuedWhenApplyingFails(t *testing.T) {
	st := storetest.New(t)
	a := &testApplier{before: func(*store.Store, []store.Event) error { return errors.New("boom") }}
	var handed int
	in := st.NewIntake(store.IntakeOptions{Apply: a, Handoff: func(events []store.Event) { handed += len(events) }})
	defer in.Close()
	inserted, err := in.EnqueueEvent(ctx, intakeEvent("evt_1"))
	if err != nil || !inserted {
		t.Fatalf("inserted %v, %v", inserted, err)
	}
	if e := storedEvents(t, st)["evt_1"]; e.Status != store.EventQueued || e.Attempts != 0 {
		t.Fatalf("event stored as %+v", e)
	}
	if n := customerCount(t, st); n != 0 || handed != 1 || len(a.committed) != 0 || len(a.rolledBack) != 1 {
		t.Fatalf("%d customers, %d handed off, committed %v, rolled back %v", n, handed, a.committed, a.rolledBack)
	}
}

// Another writer (a second replica) stores the same event while this one
// applies it: this one's work is undone and the delivery counted on the
// stored event, which was not new to this caller.
func TestIntakeYieldsToAnotherWriter(t *testing.T) {
	st := storetest.New(t)
	a := &testApplier{before: func(_ *store.Store, events []store.Event) error {
		_, err := st.EnqueueEvent(ctx, events[0]) // another connection, committed at once
		return err
	}}
	in := st.NewIntake(store.IntakeOptions{Apply: a})
	defer in.Close()
	inserted, err := in.EnqueueEvent(ctx, intakeEvent("evt_1"))
	if err != nil || inserted {
		t.Fatalf("inserted %v, %v: want stored by the other writer", inserted, err)
	}
	if e := storedEvents(t, st)["evt_1"]; e.Status != store.EventQueued || e.Deliveries != 2 {
		t.Fatalf("event stored as %+v", e)
	}
	if n := customerCount(t, st); n != 0 || len(a.rolledBack) != 1 {
		t.Fatalf("%d customers, rolled back %v", n, a.rolledBack)
	}
}
