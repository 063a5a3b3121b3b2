package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"paydesk/store"
	"paydesk/store/storetest"
)

func requestUser(t *testing.T, st *store.Store, email string) store.User {
	t.Helper()
	u, err := st.AddUser(ctx, email, "", store.RoleSupport, "x")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newRequest(charge string, amount int64, by int64, n int) store.NewRefundRequest {
	return store.NewRefundRequest{Charge: charge, Amount: amount, Currency: "usd", Reason: "other", Note: "<b>note</b> 🙂",
		RequestedBy: by, Key: fmt.Sprintf("paydesk-refund-request-%s-%d", charge, n), FormKey: fmt.Sprintf("form-%s-%d", charge, n)}
}

func TestRefundRequestLife(t *testing.T) {
	st := storetest.New(t)
	ada, bob := requestUser(t, st, "ada@example.com"), requestUser(t, st, "bob@example.com")
	c := detailCharge("ch_r1", "cus_r1", 0, 100_000, "usd")
	c.AmountRefunded = 20_000
	mustUpsert(t, st.UpsertCharges, c)
	mustUpsert(t, st.UpsertCustomers, store.Customer{ID: "cus_r1", Name: ptr("Zoë"), Created: detailAt(0), Data: []byte(`{}`), Version: 1})

	// More than the charge has left, another currency, an unknown charge:
	// refused by the insert itself.
	for name, n := range map[string]store.NewRefundRequest{
		"too large":        newRequest("ch_r1", 80_001, ada.ID, 1),
		"another currency": func() store.NewRefundRequest { n := newRequest("ch_r1", 100, ada.ID, 1); n.Currency = "eur"; return n }(),
		"unknown charge":   newRequest("ch_nope", 100, ada.ID, 1),
	} {
		if _, err := st.CreateRefundRequest(ctx, n); !errors.Is(err, store.ErrRefundRequestTooLarge) {
			t.Errorf("%s: %v, want ErrRefundRequestTooLarge", name, err)
		}
	}
	req, err := st.CreateRefundRequest(ctx, newRequest("ch_r1", 80_000, ada.ID, 1))
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != store.RefundRequestPending || req.RequesterEmail != "ada@example.com" || req.Amount != 80_000 ||
		deref(req.CustomerName) != "Zoë" || req.Note != "<b>note</b> 🙂" || req.DecidedBy != nil || !req.Open() {
		t.Fatalf("created %+v", req)
	}
	// One open request per charge.
	if _, err := st.CreateRefundRequest(ctx, newRequest("ch_r1", 1, bob.ID, 2)); !errors.Is(err, store.ErrRefundRequestOpen) {
		t.Fatalf("second request: %v, want ErrRefundRequestOpen", err)
	}
	if n, err := st.PendingRefundRequests(ctx); err != nil || n != 1 {
		t.Fatalf("pending %d %v", n, err)
	}
	open, err := st.OpenRefundRequest(ctx, "ch_r1")
	if err != nil || open.ID != req.ID {
		t.Fatalf("open request %+v %v", open, err)
	}

	// The requester cannot approve; someone else can, once.
	if err := st.ApproveRefundRequest(ctx, req.ID, ada.ID, 20_000); !errors.Is(err, store.ErrRefundRequestDecided) {
		t.Fatalf("self-approval: %v", err)
	}
	if err := st.ApproveRefundRequest(ctx, req.ID, bob.ID, 20_000); err != nil {
		t.Fatal(err)
	}
	if err := st.ApproveRefundRequest(ctx, req.ID, bob.ID, 20_000); !errors.Is(err, store.ErrRefundRequestDecided) {
		t.Fatalf("second approval: %v", err)
	}
	if err := st.RejectRefundRequest(ctx, req.ID, bob.ID, "late"); !errors.Is(err, store.ErrRefundRequestDecided) {
		t.Fatalf("reject after approval: %v", err)
	}
	// Approved still holds the charge: no new request yet.
	if _, err := st.CreateRefundRequest(ctx, newRequest("ch_r1", 1, bob.ID, 3)); !errors.Is(err, store.ErrRefundRequestOpen) {
		t.Fatalf("request beside an approved one: %v", err)
	}
	if n, _ := st.PendingRefundRequests(ctx); n != 0 {
		t.Fatalf("pending %d after the approval", n)
	}
	if err := st.ExecuteRefundRequest(ctx, req.ID, "re_r1"); err != nil {
		t.Fatal(err)
	}
	if err := st.FailRefundRequest(ctx, req.ID, "x"); !errors.Is(err, store.ErrRefundRequestDecided) {
		t.Fatalf("fail after executed: %v", err)
	}
	got, err := st.RefundRequest(ctx, req.ID)
	if err != nil || got.Status != store.RefundRequestExecuted || deref(got.RefundID) != "re_r1" || deref(got.DeciderEmail) != "bob@example.com" ||
		got.DecidedAt == nil || got.RefundedBefore == nil || *got.RefundedBefore != 20_000 || got.Open() {
		t.Fatalf("executed request %+v %v", got, err)
	}

	// The charge is free again: a request, rejected with a note; then a
	// new one, approved and refused by Stripe.
	second, err := st.CreateRefundRequest(ctx, newRequest("ch_r1", 500, bob.ID, 4))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RejectRefundRequest(ctx, second.ID, ada.ID, "not this one"); err != nil {
		t.Fatal(err)
	}
	third, err := st.CreateRefundRequest(ctx, newRequest("ch_r1", 600, bob.ID, 5))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.FailRefundRequest(ctx, third.ID, "x"); !errors.Is(err, store.ErrRefundRequestDecided) {
		t.Fatalf("fail while pending: %v", err)
	}
	if err := st.ApproveRefundRequest(ctx, third.ID, ada.ID, 20_000); err != nil {
		t.Fatal(err)
	}
	if err := st.FailRefundRequest(ctx, third.ID, "Stripe refused"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.OpenRefundRequest(ctx, "ch_r1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("open request after all were decided: %v", err)
	}
	open2, decided, err := st.RefundRequests(ctx, 2)
	if err != nil || len(open2) != 0 || len(decided) != 2 || decided[0].ID != third.ID || decided[1].ID != second.ID {
		t.Fatalf("lists: open %+v decided %+v %v", open2, decided, err)
	}
	if decided[0].Status != store.RefundRequestFailed || deref(decided[0].Error) != "Stripe refused" ||
		decided[1].Status != store.RefundRequestRejected || decided[1].DecisionNote != "not this one" {
		t.Fatalf("decided %+v", decided)
	}
}

// Many requests for one charge at once: exactly one is stored, so two
// requests can never together ask for more than the charge has.
func TestRefundRequestConcurrent(t *testing.T) {
	st := storetest.New(t)
	ada := requestUser(t, st, "ada@example.com")
	mustUpsert(t, st.UpsertCharges, detailCharge("ch_r2", "cus_r2", 0, 10_000, "usd"))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = st.CreateRefundRequest(ctx, newRequest("ch_r2", 6_000, ada.ID, i)) })
	}
	wg.Wait()
	made := 0
	for i, err := range errs {
		switch {
		case err == nil:
			made++
		case !errors.Is(err, store.ErrRefundRequestOpen):
			t.Errorf("request %d: %v", i, err)
		}
	}
	if made != 1 {
		t.Fatalf("%d requests stored, want 1", made)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
