package store_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

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
