package backfill_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi/backfill"
	"paydesk/stripeapi/stripefake"
)

func TestCatchUpQueuesMissingEvents(t *testing.T) {
	data, srv := account(t, stripefake.Dataset{Customers: 50, Seed: 11}, stripefake.Options{})
	st := storetest.New(t)
	ctx := context.Background()
	base := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	var events []json.RawMessage
	for i, cus := range data.Customers() {
		// Pairs of events share a second, as Stripe's often do.
		events = append(events, data.AddEvent("customer.updated", cus, base.Add(time.Duration(i/2)*time.Second)))
	}
	// The first 20 arrived by webhook before the outage.
	var head struct {
		ID      string `json:"id"`
		Created int64  `json:"created"`
	}
	for _, raw := range events[:20] {
		json.Unmarshal(raw, &head)
		if _, err := st.EnqueueEvent(ctx, store.Event{ID: head.ID, Type: "customer.updated", Created: head.Created, Data: raw, Source: store.SourceWebhook}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := backfill.CatchUpEvents(ctx, st, client(t, srv.URL, 0))
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 30 {
		t.Fatalf("catch-up %+v: want the 30 missing events added", res)
	}
	var n struct {
		All     int `db:"all"`
		Catchup int `db:"catchup"`
		Twice   int `db:"twice"`
	}
	if err := st.DB().GetContext(ctx, &n, `SELECT count(*) AS all, count(*) FILTER (WHERE source = 'catchup') AS catchup,
		count(*) FILTER (WHERE deliveries > 1) AS twice FROM events`); err != nil {
		t.Fatal(err)
	}
	if n.All != 50 || n.Catchup != 30 || n.Twice != 0 {
		t.Fatalf("events %+v", n)
	}
	// Run again: nothing new.
	if res, err := backfill.CatchUpEvents(ctx, st, client(t, srv.URL, 0)); err != nil || res.Added != 0 {
		t.Fatalf("second catch-up %+v %v", res, err)
	}
}
