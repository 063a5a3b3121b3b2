package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

func TestClaimOrder(t *testing.T) {
	st := storetest.New(t)
	admin, err := st.AddUser(ctx, "admin@example.com", "", store.RoleAdmin, "x")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := st.CreateAPIToken(ctx, "shop", admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	hash, other := []byte("hash-1"), []byte("hash-2")
	o, claimed, err := st.ClaimOrder(ctx, "A-1", tok.ID, hash)
	if err != nil || !claimed || o.Status != store.ActionPending || o.Attempts != 1 {
		t.Fatalf("first claim: %+v %v %v", o, claimed, err)
	}
	// In flight: not claimed again.
	if o, claimed, err = st.ClaimOrder(ctx, "A-1", tok.ID, hash); err != nil || claimed || o.Status != store.ActionPending {
		t.Fatalf("claim while pending: %+v %v %v", o, claimed, err)
	}
	// Another body under the same order id: a conflict, whatever its state.
	if _, _, err := st.ClaimOrder(ctx, "A-1", tok.ID, other); !errors.Is(err, store.ErrOrderConflict) {
		t.Errorf("another body: %v", err)
	}
	// Failed: claimed again by the same body only.
	if err := st.FinishOrder(ctx, "A-1", store.OrderOutcome{Status: store.ActionFailed, Error: "Stripe refused"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ClaimOrder(ctx, "A-1", tok.ID, other); !errors.Is(err, store.ErrOrderConflict) {
		t.Errorf("another body after a failure: %v", err)
	}
	if o, claimed, err = st.ClaimOrder(ctx, "A-1", tok.ID, hash); err != nil || !claimed || o.Attempts != 2 || o.Error != nil {
		t.Fatalf("claim after a failure: %+v %v %v", o, claimed, err)
	}
	// Done: its answer stays, and it is never claimed again.
	answer := json.RawMessage(`{"invoice_id":"in_1"}`)
	if err := st.FinishOrder(ctx, "A-1", store.OrderOutcome{Status: store.ActionDone, InvoiceID: "in_1", CustomerID: "cus_1",
		Response: answer}); err != nil {
		t.Fatal(err)
	}
	o, claimed, err = st.ClaimOrder(ctx, "A-1", tok.ID, hash)
	if err != nil || claimed || o.Status != store.ActionDone || *o.InvoiceID != "in_1" || string(o.Response) != `{"invoice_id": "in_1"}` {
		t.Fatalf("claim when done: %+v (%s) %v %v", o, o.Response, claimed, err)
	}
	if err := st.FinishOrder(ctx, "A-1", store.OrderOutcome{Status: store.ActionDone}); err == nil {
		t.Errorf("a finished order was finished again")
	}
	// Pending past ActionStale (its request died): taken over.
	if _, _, err := st.ClaimOrder(ctx, "B-1", tok.ID, hash); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `UPDATE orders SET started_at = now() - interval '3 minutes' WHERE order_id = 'B-1'`); err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := st.ClaimOrder(ctx, "B-1", tok.ID, hash); err != nil || !claimed {
		t.Errorf("a stale pending order was not taken over: %v %v", claimed, err)
	}
	if _, err := st.OrderByID(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("no order: %v", err)
	}
}

func TestCustomerByEmail(t *testing.T) {
	st := storetest.New(t)
	rows := []store.Customer{
		{ID: "cus_old", Email: ptr("Ada@Example.com"), Created: time.Unix(1_600_000_000, 0)},
		{ID: "cus_new", Email: ptr("ada@example.com"), Created: time.Unix(1_700_000_000, 0)},
		{ID: "cus_gone", Email: ptr("ada@example.com"), Created: time.Unix(1_800_000_000, 0), Deleted: true},
		{ID: "cus_live", Email: ptr("ada@example.com"), Created: time.Unix(1_900_000_000, 0), Livemode: true},
	}
	for i := range rows {
		rows[i].Data, rows[i].Version = json.RawMessage(`{}`), 1
	}
	if _, err := st.UpsertCustomers(ctx, rows); err != nil {
		t.Fatal(err)
	}
	c, err := st.CustomerByEmail(ctx, "ADA@example.COM", false)
	if err != nil || c.ID != "cus_new" {
		t.Errorf("test mode: %s %v, want the newest live customer cus_new", c.ID, err)
	}
	if c, err := st.CustomerByEmail(ctx, "ada@example.com", true); err != nil || c.ID != "cus_live" {
		t.Errorf("live mode: %s %v", c.ID, err)
	}
	if _, err := st.CustomerByEmail(ctx, "bob@example.com", false); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown email: %v", err)
	}
}
