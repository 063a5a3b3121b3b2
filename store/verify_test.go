package store_test

import (
	"slices"
	"testing"
	"time"

	"paydesk/store/storetest"
)

func TestVerifyReads(t *testing.T) {
	st := storetest.New(t)
	// Test mode: three customers, one deleted; one live customer.
	mustUpsert(t, st.UpsertCustomers, customer("cus_a", 1, "a"), customer("cus_b", 1, "b"), customer("cus_c", 1, "c"))
	deleted := customer("cus_c", 2, "c")
	deleted.Deleted = true
	mustUpsert(t, st.UpsertCustomers, deleted)
	live := customer("cus_live", 1, "live")
	live.Livemode = true
	mustUpsert(t, st.UpsertCustomers, live)
	// Invoices: one with three lines, one deleted, one created later.
	mustUpsert(t, st.UpsertInvoices, invoice("in_a", 1, "il_1", "il_2", "il_3"), invoice("in_b", 1))
	later := invoice("in_later", 1, "il_9")
	later.Created = time.Unix(1800000000, 0)
	mustUpsert(t, st.UpsertInvoices, later)
	if _, err := st.MarkInvoiceDeleted(ctx, "in_b", 2); err != nil {
		t.Fatal(err)
	}

	count := func(table string, livemode bool, before *time.Time) int64 {
		t.Helper()
		n, err := st.VerifyCount(ctx, table, livemode, before)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	bound := time.Unix(1750000000, 0)
	if n := count("customers", false, nil); n != 2 {
		t.Errorf("test customers = %d, want 2 (deleted left out)", n)
	}
	if n := count("customers", true, nil); n != 1 {
		t.Errorf("live customers = %d, want 1", n)
	}
	if n := count("invoices", false, nil); n != 2 {
		t.Errorf("invoices = %d, want 2", n)
	}
	if n := count("invoices", false, &bound); n != 1 {
		t.Errorf("invoices created before the bound = %d, want 1", n)
	}
	if n := count("charges", false, nil); n != 0 {
		t.Errorf("charges = %d", n)
	}
	if _, err := st.VerifyCount(ctx, "users", false, nil); err == nil {
		t.Error("VerifyCount accepted a table outside the mirror")
	}

	var ids []string
	if err := st.VerifyEachID(ctx, "invoices", false, &bound, func(id string) error { ids = append(ids, id); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{"in_a"}) {
		t.Errorf("invoice ids = %v, want [in_a]", ids)
	}

	sample, err := st.VerifySample(ctx, "customers", false, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sample, []string{"cus_a", "cus_b", "cus_c"}) {
		t.Errorf("sample of 10 = %v, want every test-mode customer, the deleted one too", sample)
	}
	if sample, err = st.VerifySample(ctx, "customers", false, 2); err != nil || len(sample) != 2 {
		t.Errorf("sample of 2 = %v (%v)", sample, err)
	}

	invs, err := st.VerifyInvoices(ctx, []string{"in_a", "in_b", "in_missing"})
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != 2 || invs[0].ID != "in_a" || invs[0].LinesStored != 3 || invs[0].LinesSum != 6_000_000_000 ||
		invs[0].Total != 5_000_000_000 || *invs[0].Status != "open" || invs[1].ID != "in_b" || !invs[1].Deleted || invs[1].LinesStored != 0 {
		t.Errorf("invoices = %+v", invs)
	}
	cus, err := st.VerifyCustomers(ctx, []string{"cus_c", "cus_a"})
	if err != nil || len(cus) != 2 || cus[0].ID != "cus_a" || *cus[0].Email != "cus_a@example.com" || !cus[1].Deleted {
		t.Errorf("customers = %+v (%v)", cus, err)
	}

	// A lost line is rewritten by the next upsert only once the stored
	// hash is forgotten.
	if _, err := st.DB().ExecContext(ctx, `DELETE FROM invoice_lines WHERE id = 'il_2'`); err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, st.UpsertInvoices, invoice("in_a", 3, "il_1", "il_2", "il_3"))
	lineCount := func() int {
		var n int
		if err := st.DB().GetContext(ctx, &n, `SELECT count(*) FROM invoice_lines WHERE invoice = 'in_a'`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := lineCount(); n != 2 {
		t.Fatalf("lines = %d: the upsert rewrote them without a hash change; this test no longer shows why ForgetLinesHash exists", n)
	}
	if err := st.ForgetLinesHash(ctx, "in_a"); err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, st.UpsertInvoices, invoice("in_a", 4, "il_1", "il_2", "il_3"))
	if n := lineCount(); n != 3 {
		t.Errorf("lines = %d after forgetting the hash, want 3", n)
	}
}

// The charge and refund reads return the compared fields.
func TestVerifyChargesAndRefunds(t *testing.T) {
	st := storetest.New(t)
	ch := detailCharge("ch_1", "cus_1", 1, 4200, "eur")
	ch.AmountRefunded, ch.Refunded, ch.Disputed = 4200, true, true
	mustUpsert(t, st.UpsertCharges, ch)
	mustUpsert(t, st.UpsertRefunds, detailRefund("re_1", "ch_1", 2, 4200, "eur"))
	chs, err := st.VerifyCharges(ctx, []string{"ch_1"})
	if err != nil || len(chs) != 1 || chs[0].Amount != 4200 || chs[0].AmountRefunded != 4200 || !chs[0].Refunded ||
		!chs[0].Disputed || chs[0].Status != "succeeded" || chs[0].Currency != "eur" || chs[0].Version != 1 {
		t.Errorf("charges = %+v (%v)", chs, err)
	}
	res, err := st.VerifyRefunds(ctx, []string{"re_1", "re_2"})
	if err != nil || len(res) != 1 || res[0].Amount != 4200 || *res[0].Charge != "ch_1" || *res[0].Status != "succeeded" || res[0].Currency != "eur" {
		t.Errorf("refunds = %+v (%v)", res, err)
	}
}
