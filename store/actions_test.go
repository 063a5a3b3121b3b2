package store_test

import (
	"errors"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

func TestClaimAction(t *testing.T) {
	st := storetest.New(t)
	const key = "paydesk-refund-ch_1-abc"
	a, claimed, err := st.ClaimAction(ctx, key, "refund.create", "charge:ch_1", nil)
	if err != nil || !claimed || a.Status != store.ActionPending || a.Attempts != 1 {
		t.Fatalf("first claim: %+v %v %v", a, claimed, err)
	}
	// Pending in another request: not claimed, shown as it stands.
	a, claimed, err = st.ClaimAction(ctx, key, "refund.create", "charge:ch_1", nil)
	if err != nil || claimed || a.Status != store.ActionPending {
		t.Fatalf("second claim while pending: %+v %v %v", a, claimed, err)
	}
	// The same key for another target is a mistake, not a claim.
	if _, _, err := st.ClaimAction(ctx, key, "refund.create", "charge:ch_2", nil); err == nil {
		t.Fatalf("a key reused for another charge was accepted")
	}
	// Failed: free for another attempt under the same key.
	if err := st.FinishAction(ctx, key, store.ActionFailed, "", "Stripe refused"); err != nil {
		t.Fatal(err)
	}
	a, claimed, err = st.ClaimAction(ctx, key, "refund.create", "charge:ch_1", nil)
	if err != nil || !claimed || a.Attempts != 2 || a.Error != nil {
		t.Fatalf("claim after a failure: %+v %v %v", a, claimed, err)
	}
	// Done: never claimed again; its result stays.
	if err := st.FinishAction(ctx, key, store.ActionDone, "re_1", ""); err != nil {
		t.Fatal(err)
	}
	a, claimed, err = st.ClaimAction(ctx, key, "refund.create", "charge:ch_1", nil)
	if err != nil || claimed || a.Status != store.ActionDone || a.ResultID == nil || *a.ResultID != "re_1" {
		t.Fatalf("claim after done: %+v %v %v", a, claimed, err)
	}
	if err := st.FinishAction(ctx, key, store.ActionDone, "re_2", ""); err == nil {
		t.Fatalf("a finished action was finished again")
	}
	// A claim whose request died is taken over once it is stale.
	const dead = "paydesk-refund-ch_3-def"
	if _, _, err := st.ClaimAction(ctx, dead, "refund.create", "charge:ch_3", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `UPDATE stripe_actions SET started_at = now() - $2::interval WHERE idempotency_key = $1`,
		dead, (store.ActionStale + time.Second).String()); err != nil {
		t.Fatal(err)
	}
	if a, claimed, err := st.ClaimAction(ctx, dead, "refund.create", "charge:ch_3", nil); err != nil || !claimed || a.Attempts != 2 {
		t.Fatalf("stale claim: %+v %v %v", a, claimed, err)
	}
	if _, err := st.ActionByKey(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestWriteThroughRefund(t *testing.T) {
	st := storetest.New(t)
	mustUpsert(t, st.UpsertCharges, detailCharge("ch_w", "cus_w", 0, 5000, "usd"))
	write := func(id string, amount, before int64, status string) error {
		r := detailRefund(id, "ch_w", 10, amount, "usd")
		r.Status = ptr(status)
		return st.InTx(ctx, func(tx *store.Store) error {
			return tx.WriteThroughRefund(ctx, store.RefundWriteThrough{Refund: r, Charge: "ch_w", RefundedBefore: before})
		})
	}
	check := func(wantRefunded int64, wantFull bool) {
		t.Helper()
		d, err := st.ChargeDetail(ctx, "ch_w")
		if err != nil {
			t.Fatal(err)
		}
		if d.Charge.AmountRefunded != wantRefunded || d.Charge.Refunded != wantFull {
			t.Fatalf("charge: amount_refunded %d refunded %v, want %d %v", d.Charge.AmountRefunded, d.Charge.Refunded, wantRefunded, wantFull)
		}
		var inData int64
		if err := st.DB().GetContext(ctx, &inData, `SELECT (data->>'amount_refunded')::bigint FROM charges WHERE id = 'ch_w'`); err != nil {
			t.Fatal(err)
		}
		if inData != wantRefunded {
			t.Fatalf("the stored object says amount_refunded %d, the column %d", inData, wantRefunded)
		}
	}
	if err := write("re_w1", 2000, 0, "succeeded"); err != nil {
		t.Fatal(err)
	}
	check(2000, false)
	// The webhook got there first: the charge already counts the refund,
	// and the write-through must not count it again.
	c := detailCharge("ch_w", "cus_w", 0, 5000, "usd")
	c.AmountRefunded, c.Version = 3500, 2
	mustUpsert(t, st.UpsertCharges, c)
	if err := write("re_w2", 1500, 2000, "pending"); err != nil {
		t.Fatal(err)
	}
	check(3500, false)
	// A refund that already failed adds nothing.
	if err := write("re_w3", 1000, 3500, "failed"); err != nil {
		t.Fatal(err)
	}
	check(3500, false)
	if err := write("re_w4", 1500, 3500, "succeeded"); err != nil {
		t.Fatal(err)
	}
	check(5000, true)
	// A refund in another currency than its charge is refused whole.
	r := detailRefund("re_w5", "ch_w", 10, 100, "eur")
	err := st.InTx(ctx, func(tx *store.Store) error {
		return tx.WriteThroughRefund(ctx, store.RefundWriteThrough{Refund: r, Charge: "ch_w", RefundedBefore: 5000})
	})
	if err == nil {
		t.Fatal("a refund in another currency was written through")
	}
	var n int
	if err := st.DB().GetContext(ctx, &n, `SELECT count(*) FROM refunds WHERE id = 're_w5'`); err != nil || n != 0 {
		t.Fatalf("the refused refund left %d rows (%v)", n, err)
	}
}
