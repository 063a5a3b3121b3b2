package backfill_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"paydesk/store"
	"paydesk/stripeapi/stripefake"
)

// decode reads a JSON object keeping numbers exact.
func decode(t testing.TB, raw json.RawMessage) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case map[string]any:
		return str(x["id"])
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

func sp(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// assertMirror compares every object of the fake account with the mirror:
// counts per table, and the key fields of every customer, invoice, line,
// charge and refund.
func assertMirror(t *testing.T, st *store.Store, data *stripefake.Data) {
	t.Helper()
	ctx := context.Background()
	want := data.Counts()
	for table, n := range map[string]int{"customers": want["customers"], "invoices": want["invoices"],
		"invoice_lines": want["invoice_lines"], "charges": want["charges"], "refunds": want["refunds"]} {
		var got int
		if err := st.DB().GetContext(ctx, &got, `SELECT count(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Errorf("%s: %d rows, want %d", table, got, n)
		}
	}

	// Unsafe: the search columns of migration 00016 are generated from
	// others and have no field in the models.
	var customers []store.Customer
	if err := st.DB().Unsafe().SelectContext(ctx, &customers, `SELECT * FROM customers`); err != nil {
		t.Fatal(err)
	}
	byID := map[string]store.Customer{}
	for _, c := range customers {
		byID[c.ID] = c
	}
	for i, raw := range data.Customers() {
		w := decode(t, raw)
		g, ok := byID[str(w["id"])]
		if !ok {
			t.Fatalf("customer %s missing", w["id"])
		}
		if sp(g.Name) != str(w["name"]) || sp(g.Email) != str(w["email"]) || fmt.Sprint(g.Created.Unix()) != str(w["created"]) || fmt.Sprint(g.Balance) != str(w["balance"]) {
			t.Fatalf("customer %s differs: got name %q email %q created %d, want %v", g.ID, sp(g.Name), sp(g.Email), g.Created.Unix(), w)
		}
		if i%wholeEvery == 0 && !bytes.Equal(canon(t, g.Data), canon(t, raw)) {
			t.Fatalf("customer %s: stored object differs from Stripe's", g.ID)
		}
	}

	var invoices []store.Invoice
	if err := st.DB().Unsafe().SelectContext(ctx, &invoices, `SELECT * FROM invoices`); err != nil {
		t.Fatal(err)
	}
	var lines []store.InvoiceLine
	if err := st.DB().SelectContext(ctx, &lines, `SELECT * FROM invoice_lines ORDER BY invoice, position`); err != nil {
		t.Fatal(err)
	}
	linesOf := map[string][]store.InvoiceLine{}
	for _, l := range lines {
		linesOf[l.Invoice] = append(linesOf[l.Invoice], l)
	}
	invByID := map[string]store.Invoice{}
	for _, inv := range invoices {
		invByID[inv.ID] = inv
	}
	for _, raw := range data.Invoices() {
		w := decode(t, raw)
		id := str(w["id"])
		g, ok := invByID[id]
		if !ok {
			t.Fatalf("invoice %s missing", id)
		}
		if fmt.Sprint(g.Total) != str(w["total"]) || fmt.Sprint(g.AmountDue) != str(w["amount_due"]) ||
			fmt.Sprint(g.AmountPaid) != str(w["amount_paid"]) || fmt.Sprint(g.AmountRemaining) != str(w["amount_remaining"]) ||
			g.Currency != str(w["currency"]) || sp(g.Status) != str(w["status"]) || sp(g.Customer) != str(w["customer"]) ||
			sp(g.Number) != str(w["number"]) {
			t.Fatalf("invoice %s differs:\n got %+v\nwant %v", id, g, w)
		}
		wantLines := w["lines"].(map[string]any)["data"].([]any)
		gotLines := linesOf[id]
		if len(gotLines) != len(wantLines) || g.LinesTotalCount != int64(len(wantLines)) {
			t.Fatalf("invoice %s: %d lines stored (count column %d), want %d", id, len(gotLines), g.LinesTotalCount, len(wantLines))
		}
		for i, wl := range wantLines {
			wl := wl.(map[string]any)
			gl := gotLines[i]
			if gl.ID != str(wl["id"]) || fmt.Sprint(gl.Amount) != str(wl["amount"]) || gl.Currency != str(wl["currency"]) || sp(gl.Description) != str(wl["description"]) {
				t.Fatalf("invoice %s line %d differs: got %+v, want %v", id, i, gl, wl)
			}
		}
	}

	var charges []store.Charge
	if err := st.DB().Unsafe().SelectContext(ctx, &charges, `SELECT * FROM charges`); err != nil {
		t.Fatal(err)
	}
	chByID := map[string]store.Charge{}
	for _, c := range charges {
		chByID[c.ID] = c
	}
	for i, raw := range data.Charges() {
		w := decode(t, raw)
		g, ok := chByID[str(w["id"])]
		if !ok {
			t.Fatalf("charge %s missing", w["id"])
		}
		if fmt.Sprint(g.Amount) != str(w["amount"]) || fmt.Sprint(g.AmountRefunded) != str(w["amount_refunded"]) ||
			fmt.Sprint(g.Refunded) != str(w["refunded"]) || g.Status != str(w["status"]) || g.Currency != str(w["currency"]) ||
			sp(g.Customer) != str(w["customer"]) || sp(g.Description) != str(w["description"]) {
			t.Fatalf("charge %s differs:\n got %+v\nwant %v", g.ID, g, w)
		}
		if i%wholeEvery == 0 && !bytes.Equal(canon(t, g.Data), canon(t, raw)) {
			t.Fatalf("charge %s: stored object differs from Stripe's", g.ID)
		}
	}

	var refunds []store.Refund
	if err := st.DB().SelectContext(ctx, &refunds, `SELECT * FROM refunds`); err != nil {
		t.Fatal(err)
	}
	reByID := map[string]store.Refund{}
	for _, r := range refunds {
		reByID[r.ID] = r
	}
	for _, raw := range data.Refunds() {
		w := decode(t, raw)
		g, ok := reByID[str(w["id"])]
		if !ok {
			t.Fatalf("refund %s missing", w["id"])
		}
		if fmt.Sprint(g.Amount) != str(w["amount"]) || sp(g.Charge) != str(w["charge"]) || g.Currency != str(w["currency"]) || sp(g.Status) != str(w["status"]) {
			t.Fatalf("refund %s differs:\n got %+v\nwant %v", g.ID, g, w)
		}
	}
}

// wholeEvery sets how often the whole stored object, not just its key
// fields, is compared: every object costs too much time on large accounts.
const wholeEvery = 5

// canon re-encodes JSON with sorted keys and exact numbers, the form in
// which jsonb and Stripe's bytes can be compared.
func canon(t testing.TB, raw json.RawMessage) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
