package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

func ptr[T any](v T) *T { return &v }

var ctx = context.Background()

// hostile is text that must come back byte for byte: HTML, a script tag,
// emoji, a right-to-left override and a zero-width joiner sequence.
const hostile = "<b>Zoë</b> <script>alert(1)</script> 👩‍💻 \u202Eevil\u202C عربى 日本"

func customer(id string, version int64, name string) store.Customer {
	data, _ := json.Marshal(map[string]any{"id": id, "object": "customer", "name": name})
	return store.Customer{ID: id, Name: ptr(name), Email: ptr(id + "@example.com"), Created: time.Unix(1700000000, 0), Data: data, Version: version}
}

func TestUpsertCustomersVersionOrder(t *testing.T) {
	st := storetest.New(t)
	mustApply := func(want int, rows ...store.Customer) {
		t.Helper()
		n, err := st.UpsertCustomers(ctx, rows)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("applied %d, want %d", n, want)
		}
	}
	mustApply(1, customer("cus_1", 100, "first"))
	mustApply(0, customer("cus_1", 99, "older"))     // older: skipped
	mustApply(1, customer("cus_1", 100, "same-sec")) // same second: not older, applied
	mustApply(1, customer("cus_1", 101, "newer"))
	// Within one batch only the newest version of an id is written.
	mustApply(2, customer("cus_2", 5, "b-old"), customer("cus_2", 7, "b-new"), customer("cus_2", 6, "b-mid"), customer("cus_3", 1, "c"))

	var got struct {
		Name    string `db:"name"`
		Version int64  `db:"version"`
		Data    string `db:"data"`
	}
	if err := st.DB().GetContext(ctx, &got, `SELECT name, version, data::text FROM customers WHERE id = 'cus_1'`); err != nil {
		t.Fatal(err)
	}
	if got.Name != "newer" || got.Version != 101 {
		t.Fatalf("cus_1 = %+v, want newer@101", got)
	}
	if err := st.DB().GetContext(ctx, &got, `SELECT name, version, data::text FROM customers WHERE id = 'cus_2'`); err != nil {
		t.Fatal(err)
	}
	if got.Name != "b-new" || got.Version != 7 {
		t.Fatalf("cus_2 = %+v, want b-new@7", got)
	}
}

func TestDeletedCustomerStaysDeleted(t *testing.T) {
	st := storetest.New(t)
	if _, err := st.UpsertCustomers(ctx, []store.Customer{customer("cus_d", 10, "Ada")}); err != nil {
		t.Fatal(err)
	}
	deleted := store.Customer{ID: "cus_d", Deleted: true, Data: json.RawMessage(`{"id":"cus_d","object":"customer","deleted":true}`), Version: 20}
	if n, err := st.UpsertCustomers(ctx, []store.Customer{deleted}); err != nil || n != 1 {
		t.Fatalf("delete: n=%d err=%v", n, err)
	}
	// A late update, older or even in a later second, never resurrects it.
	for _, v := range []int64{15, 20, 25} {
		if n, err := st.UpsertCustomers(ctx, []store.Customer{customer("cus_d", v, "resurrected")}); err != nil || n != 0 {
			t.Fatalf("update@%d after delete: n=%d err=%v", v, n, err)
		}
	}
	var row struct {
		Name    string `db:"name"`
		Deleted bool   `db:"deleted"`
		Gone    bool   `db:"gone"`
	}
	if err := st.DB().GetContext(ctx, &row, `SELECT name, deleted, (data->>'deleted')::boolean AS gone FROM customers WHERE id = 'cus_d'`); err != nil {
		t.Fatal(err)
	}
	if !row.Deleted || !row.Gone || row.Name != "Ada" {
		t.Fatalf("got %+v, want deleted with the last known name kept", row)
	}
}

func TestMoneyAndTextRoundTrip(t *testing.T) {
	st := storetest.New(t)
	const big = int64(1)<<53 + 1 // above 2^31 and beyond float64's exact integers
	data := json.RawMessage(fmt.Sprintf(`{"id":"ch_big","object":"charge","amount":%d,"description":%q}`, big, hostile))
	ch := store.Charge{ID: "ch_big", Amount: big, AmountCaptured: big, AmountRefunded: 1 << 31, Currency: "jpy",
		Status: "succeeded", Description: ptr(hostile), BillingName: ptr(hostile), Created: time.Unix(1700000000, 0), Data: data, Version: 1}
	if _, err := st.UpsertCharges(ctx, []store.Charge{ch}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Amount   int64  `db:"amount"`
		Refunded int64  `db:"amount_refunded"`
		Currency string `db:"currency"`
		Desc     string `db:"description"`
		Name     string `db:"billing_name"`
		JSONAmt  string `db:"json_amount"`
		JSONDesc string `db:"json_desc"`
	}
	err := st.DB().GetContext(ctx, &got, `SELECT amount, amount_refunded, currency, description, billing_name,
		data->>'amount' AS json_amount, data->>'description' AS json_desc FROM charges WHERE id = 'ch_big'`)
	if err != nil {
		t.Fatal(err)
	}
	if got.Amount != big || got.Refunded != 1<<31 || got.Currency != "jpy" || got.JSONAmt != fmt.Sprint(big) {
		t.Fatalf("money changed: %+v", got)
	}
	if got.Desc != hostile || got.Name != hostile || got.JSONDesc != hostile {
		t.Fatalf("text changed:\n got %q\nwant %q", got.Desc, hostile)
	}
}

func invoice(id string, version int64, lines ...string) store.Invoice {
	inv := store.Invoice{ID: id, Customer: ptr("cus_1"), Status: ptr("open"), Currency: "krw", Total: 5_000_000_000,
		Created: time.Unix(1700000000, 0), Data: json.RawMessage(`{"id":"` + id + `"}`), Version: version}
	for i, l := range lines {
		inv.Lines = append(inv.Lines, store.InvoiceLine{Invoice: id, ID: l, Position: i, Amount: int64(i+1) * 1_000_000_000, Currency: "krw",
			Description: ptr(hostile), Data: json.RawMessage(`{"id":"` + l + `"}`)})
	}
	inv.LinesTotalCount = int64(len(lines))
	return inv
}

func TestInvoiceLinesFollowTheAppliedVersion(t *testing.T) {
	st := storetest.New(t)
	var many []string
	for i := range 30 {
		many = append(many, fmt.Sprintf("il_%02d", i))
	}
	if _, err := st.UpsertInvoices(ctx, []store.Invoice{invoice("in_1", 10, many...)}); err != nil {
		t.Fatal(err)
	}
	lines := func() []string {
		var ids []string
		if err := st.DB().SelectContext(ctx, &ids, `SELECT id FROM invoice_lines WHERE invoice = 'in_1' ORDER BY position`); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := lines(); len(got) != 30 || got[0] != "il_00" || got[29] != "il_29" {
		t.Fatalf("lines = %v", got)
	}
	// An older version with other lines is skipped, lines and all.
	if n, _ := st.UpsertInvoices(ctx, []store.Invoice{invoice("in_1", 9, "il_old")}); n != 0 {
		t.Fatal("older invoice applied")
	}
	if got := lines(); len(got) != 30 {
		t.Fatalf("older version touched lines: %v", got)
	}
	// A newer version replaces them.
	if n, _ := st.UpsertInvoices(ctx, []store.Invoice{invoice("in_1", 11, "il_b", "il_a")}); n != 1 {
		t.Fatal("newer invoice not applied")
	}
	if got := lines(); len(got) != 2 || got[0] != "il_b" || got[1] != "il_a" {
		t.Fatalf("lines after replace = %v", got)
	}
	var sum int64
	if err := st.DB().GetContext(ctx, &sum, `SELECT sum(amount) FROM invoice_lines WHERE invoice = 'in_1'`); err != nil || sum != 3_000_000_000 {
		t.Fatalf("sum = %d, %v", sum, err)
	}
}

func TestInTxRollsBackEverything(t *testing.T) {
	st := storetest.New(t)
	boom := fmt.Errorf("boom")
	err := st.InTx(ctx, func(tx *store.Store) error {
		if _, err := tx.UpsertInvoices(ctx, []store.Invoice{invoice("in_tx", 1, "il_1")}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("err = %v", err)
	}
	var n int
	if err := st.DB().GetContext(ctx, &n, `SELECT (SELECT count(*) FROM invoices) + (SELECT count(*) FROM invoice_lines)`); err != nil || n != 0 {
		t.Fatalf("rows left after rollback: %d %v", n, err)
	}
}

func TestRefundsAndNulls(t *testing.T) {
	st := storetest.New(t)
	r := store.Refund{ID: "re_1", Charge: ptr("ch_1"), Amount: 500, Currency: "bhd", Created: time.Unix(1700000000, 0), Data: json.RawMessage(`{}`), Version: 1}
	if n, err := st.UpsertRefunds(ctx, []store.Refund{r}); err != nil || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	var status *string
	if err := st.DB().GetContext(ctx, &status, `SELECT status FROM refunds WHERE id = 're_1'`); err != nil || status != nil {
		t.Fatalf("status = %v, %v; want NULL", status, err)
	}
}

func TestMigrationsCurrent(t *testing.T) {
	st := storetest.New(t)
	ok, err := st.MigrationsCurrent(ctx)
	if err != nil || !ok {
		t.Fatalf("current = %v, %v", ok, err)
	}
	applied, err := st.Migrate(ctx)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate applied %v, %v", applied, err)
	}
}

func TestUnchangedLinesAreNotRewritten(t *testing.T) {
	st := storetest.New(t)
	xmins := func() string {
		var s string
		if err := st.DB().GetContext(ctx, &s, `SELECT string_agg(xmin::text, ',' ORDER BY position) FROM invoice_lines WHERE invoice = 'in_h'`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := st.UpsertInvoices(ctx, []store.Invoice{invoice("in_h", 1, "il_1", "il_2")}); err != nil {
		t.Fatal(err)
	}
	before := xmins()
	// A newer state of the invoice with the same lines leaves them alone.
	if n, err := st.UpsertInvoices(ctx, []store.Invoice{invoice("in_h", 2, "il_1", "il_2")}); err != nil || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if after := xmins(); after != before {
		t.Fatalf("unchanged lines were rewritten: %s -> %s", before, after)
	}
	// Reordered lines are a change.
	if _, err := st.UpsertInvoices(ctx, []store.Invoice{invoice("in_h", 3, "il_2", "il_1")}); err != nil {
		t.Fatal(err)
	}
	var order string
	if err := st.DB().GetContext(ctx, &order, `SELECT string_agg(id, ',' ORDER BY position) FROM invoice_lines WHERE invoice = 'in_h'`); err != nil || order != "il_2,il_1" {
		t.Fatalf("lines after reorder: %q %v", order, err)
	}
}
