package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
)

func TestSeedCommand(t *testing.T) {
	ctx := context.Background()
	st, dbURL := storetest.NewWithURL(t)
	env := map[string]string{"DATABASE_URL": dbURL}

	r := paydesk(t, env, "seed", "--customers", "40", "--invoices", "120", "--charges", "300", "--refunds", "30", "--seed", "5")
	if r.code != 0 {
		t.Fatalf("seed: %+v", r)
	}
	for _, want := range []string{"seeding the test-mode mirror (seed 5)", "customers", "refunds", "seeded in"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q: %q", want, r.stdout)
		}
	}
	counts := map[string]int{}
	for _, table := range []string{"customers", "invoices", "charges", "refunds"} {
		var n int
		if err := st.DB().GetContext(ctx, &n, `SELECT count(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	if !reflect.DeepEqual(counts, map[string]int{"customers": 40, "invoices": 120, "charges": 300, "refunds": 30}) {
		t.Errorf("counts %v", counts)
	}

	// A second seed is refused, clearly, and changes nothing.
	r = paydesk(t, env, "seed", "--customers", "5", "--invoices", "0", "--charges", "0", "--refunds", "0")
	oneLine(t, r, "the mirror already holds rows (40 customers, 120 invoices, 300 charges, 30 refunds)")
	if !strings.Contains(r.stderr, "--append") {
		t.Errorf("the refusal does not name --append: %q", r.stderr)
	}
	r = paydesk(t, env, "seed", "--customers", "5", "--invoices", "0", "--charges", "0", "--refunds", "0", "--append", "--seed", "5")
	oneLine(t, r, "this --seed was already used")
	r = paydesk(t, env, "seed", "--customers", "5", "--invoices", "0", "--charges", "0", "--refunds", "0", "--append", "--seed", "6")
	if r.code != 0 {
		t.Fatalf("seed --append: %+v", r)
	}
	var n int
	if err := st.DB().GetContext(ctx, &n, `SELECT count(*) FROM customers`); err != nil || n != 45 {
		t.Errorf("customers after --append: %d (%v)", n, err)
	}

	// The typed columns are exactly what paydesk's own mapping of the
	// stored Stripe object gives, so the seeded data is what a sync of the
	// same objects would store.
	checkRecords(t, st)
}

func checkRecords(t *testing.T, st *store.Store) {
	t.Helper()
	db := st.DB()
	// Unsafe: the search columns of migration 00016 are generated from
	// others and have no field in the models.
	var customers []store.Customer
	if err := db.Unsafe().Select(&customers, `SELECT * FROM customers`); err != nil {
		t.Fatal(err)
	}
	for _, row := range customers {
		rec, err := stripeapi.CustomerRecord(row.Data, false, row.Version)
		if err != nil {
			t.Fatal(err)
		}
		rec.Data, rec.SyncedAt, row.Data = nil, row.SyncedAt, nil
		rec.Created = rec.Created.UTC()
		row.Created = row.Created.UTC()
		if !reflect.DeepEqual(rec, row) {
			t.Fatalf("customer %s: stored %+v, mapped %+v", row.ID, row, rec)
		}
	}
	var charges []store.Charge
	if err := db.Unsafe().Select(&charges, `SELECT * FROM charges`); err != nil {
		t.Fatal(err)
	}
	for _, row := range charges {
		rec, err := stripeapi.ChargeRecord(row.Data, false, row.Version)
		if err != nil {
			t.Fatal(err)
		}
		rec.Data, rec.SyncedAt, row.Data = nil, row.SyncedAt, nil
		rec.Created, row.Created = rec.Created.UTC(), row.Created.UTC()
		if !reflect.DeepEqual(rec, row) {
			t.Fatalf("charge %s: stored %+v, mapped %+v", row.ID, row, rec)
		}
	}
	var refunds []store.Refund
	if err := db.Select(&refunds, `SELECT * FROM refunds`); err != nil {
		t.Fatal(err)
	}
	for _, row := range refunds {
		rec, err := stripeapi.RefundRecord(row.Data, false, row.Version)
		if err != nil {
			t.Fatal(err)
		}
		rec.Data, rec.SyncedAt, row.Data = nil, row.SyncedAt, nil
		rec.Created, row.Created = rec.Created.UTC(), row.Created.UTC()
		if !reflect.DeepEqual(rec, row) {
			t.Fatalf("refund %s: stored %+v, mapped %+v", row.ID, row, rec)
		}
	}
	var invoices []store.Invoice
	if err := db.Unsafe().Select(&invoices, `SELECT * FROM invoices`); err != nil {
		t.Fatal(err)
	}
	for _, row := range invoices {
		rec, err := stripeapi.InvoiceRecord(row.Data, false, row.Version)
		if err != nil {
			t.Fatal(err)
		}
		var lines []store.InvoiceLine
		if err := db.Select(&lines, `SELECT * FROM invoice_lines WHERE invoice = $1 ORDER BY position`, row.ID); err != nil {
			t.Fatal(err)
		}
		if len(lines) != len(rec.Lines) {
			t.Fatalf("invoice %s: %d lines stored, %d in its data", row.ID, len(lines), len(rec.Lines))
		}
		for i := range lines {
			if !jsonEqual(lines[i].Data, rec.Lines[i].Data) || lines[i].Amount != rec.Lines[i].Amount ||
				*lines[i].Quantity != *rec.Lines[i].Quantity || *lines[i].UnitAmount != *rec.Lines[i].UnitAmount {
				t.Fatalf("invoice %s line %d differs from its data", row.ID, i)
			}
		}
		rec.Lines, rec.Data, rec.SyncedAt, row.Data, rec.LinesHash = nil, nil, row.SyncedAt, nil, row.LinesHash
		rec.Created, row.Created = rec.Created.UTC(), row.Created.UTC()
		if rec.DueDate != nil {
			d, e := rec.DueDate.UTC(), row.DueDate.UTC()
			rec.DueDate, row.DueDate = &d, &e
		}
		if !reflect.DeepEqual(rec, row) {
			t.Fatalf("invoice %s: stored %+v, mapped %+v", row.ID, row, rec)
		}
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func TestSeedBadInput(t *testing.T) {
	r := paydesk(t, nil, "seed", "--help")
	if r.code != 0 || !strings.Contains(r.stderr, "Usage: paydesk seed") || !strings.Contains(r.stderr, "--append") {
		t.Errorf("seed --help: %+v", r)
	}
	r = paydesk(t, nil, "seed", "--seed", "abc")
	oneLine(t, r, "--seed: want an unsigned integer")
	r = paydesk(t, nil, "seed", "--customers", "0", "--invoices", "5")
	oneLine(t, r, "invoices and charges need at least one customer")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	r = paydesk(t, nil, "seed")
	oneLine(t, r, "DATABASE_URL: required")
	dbURL := storetest.URL(t)
	r = paydesk(t, map[string]string{"DATABASE_URL": dbURL}, "seed", "--customers", "1", "--invoices", "0", "--charges", "1", "--refunds", "9")
	oneLine(t, r, "ask for more charges")
}
