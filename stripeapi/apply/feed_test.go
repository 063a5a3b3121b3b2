package apply_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/stripeapi"
	"paydesk/stripeapi/apply"
	"paydesk/stripeapi/stripefake"
)

// Events the intake hands over through the feed are applied from memory,
// each exactly once: one already applied by another worker, or not stored
// at all, is skipped rather than applied again.
func TestFeedAppliesHandedOverEventsOnce(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 4, Seed: 3})
	feed := apply.NewFeed(64)
	in := e.st.NewIntake(store.IntakeOptions{Handoff: feed.Offer})
	defer in.Close()

	deliver := func(obj json.RawMessage, created int64) store.Event {
		t.Helper()
		e.seq++
		raw, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("evt_feed_%04d", e.seq), "object": "event",
			"api_version": pinned, "created": created, "livemode": false, "type": "customer.updated",
			"data": map[string]any{"object": obj}})
		ev, err := stripeapi.EventFromJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		se := store.Event{ID: ev.ID, Type: ev.Type, APIVersion: &ev.APIVersion, Created: ev.Created,
			ObjectType: &ev.ObjectType, ObjectID: &ev.ObjectID, Data: ev.Raw, Object: ev.Object, Source: store.SourceWebhook}
		if _, err := in.EnqueueEvent(ctx, se); err != nil {
			t.Fatal(err)
		}
		return se
	}
	customers := e.data.Customers()
	var ids []string
	for i, cus := range customers[:3] {
		ev := deliver(edit(t, cus, func(m map[string]any) { m["name"] = fmt.Sprintf("fed %d %s", i, hostile) }), 5000)
		ids = append(ids, ev.ID)
	}
	// The queue path gets there first for these: the worker must skip
	// them when the feed brings them again.
	e.drain()
	late := deliver(edit(t, customers[3], func(m map[string]any) { m["name"] = "via the feed" }), 5000)
	done := late
	feed.Offer([]store.Event{e.event(ids[0]), {ID: "evt_never_stored"}})

	runCtx, stop := context.WithCancel(ctx)
	w := apply.NewWorker(e.st, nil, apply.Options{Feed: feed, Idle: time.Hour})
	finished := make(chan struct{})
	go func() { defer close(finished); _ = w.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	for e.event(done.ID).Status == store.EventQueued {
		if time.Now().After(deadline) {
			t.Fatal("the fed event was not applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-finished

	var name string
	e.scalar(&name, `SELECT name FROM customers WHERE id = $1`, *late.ObjectID)
	if name != "via the feed" {
		t.Fatalf("name = %q", name)
	}
	for _, id := range append(ids, late.ID) {
		if ev := e.event(id); ev.Status != store.EventApplied || ev.Attempts != 1 {
			t.Fatalf("%s: status %s after %d attempts, want applied once", id, ev.Status, ev.Attempts)
		}
	}
	var stored int
	e.scalar(&stored, `SELECT count(*) FROM events WHERE id = 'evt_never_stored'`)
	if stored != 0 {
		t.Fatal("an event that was never stored appeared")
	}
}

// An event leased to a worker that is fetching its object from Stripe is
// not claimed again when the feed brings it.
func TestFeedSkipsLeasedEvents(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 1, Seed: 4})
	id := e.enqueue("customer.updated", firstOf(e.data.Customers()), 6000, pinned)
	if err := e.st.LeaseEvents(ctx, []string{id}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	claimed := map[string]bool{}
	err := e.st.InTx(ctx, func(tx *store.Store) error {
		var err error
		claimed, err = tx.ClaimQueuedEvents(ctx, []string{id})
		return err
	})
	if err != nil || len(claimed) != 0 {
		t.Fatalf("claimed %v (%v), want the leased event left alone", claimed, err)
	}
}
