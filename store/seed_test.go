package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

var seedNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func smallSeed(seed uint64) store.SeedOptions {
	return store.SeedOptions{Customers: 300, Invoices: 900, Charges: 2500, Refunds: 400, Seed: seed, Now: seedNow}
}

func TestSeedCountsAndInvariants(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	o := smallSeed(7)
	sum, err := st.Seed(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Customers != 300 || sum.Invoices != 900 || sum.Charges != 2500 || sum.Refunds != 400 || sum.Lines < 900 {
		t.Fatalf("summary %+v", sum)
	}
	count := func(q string) int64 {
		t.Helper()
		var n int64
		if err := st.DB().GetContext(ctx, &n, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for table, want := range map[string]int64{"customers": 300, "invoices": 900, "charges": 2500, "refunds": 400, "invoice_lines": sum.Lines} {
		if got := count(`SELECT count(*) FROM ` + table); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}

	// Each query counts rows that break an invariant: every one must be 0.
	broken := map[string]string{
		"refunds do not add up to amount_refunded": `
SELECT count(*) FROM charges c
 WHERE c.amount_refunded <> coalesce((SELECT sum(amount) FROM refunds r WHERE r.charge = c.id AND r.status = 'succeeded'), 0)`,
		"refunded flag wrong":              `SELECT count(*) FROM charges WHERE refunded <> (amount_refunded = amount)`,
		"refunds exceed the charge":        `SELECT count(*) FROM charges c WHERE (SELECT sum(amount) FROM refunds r WHERE r.charge = c.id) > c.amount`,
		"refund of a charge not succeeded": `SELECT count(*) FROM refunds r JOIN charges c ON c.id = r.charge WHERE c.status <> 'succeeded'`,
		"refund of a missing charge":       `SELECT count(*) FROM refunds r WHERE NOT EXISTS (SELECT 1 FROM charges c WHERE c.id = r.charge)`,
		"refund currency differs":          `SELECT count(*) FROM refunds r JOIN charges c ON c.id = r.charge WHERE r.currency <> c.currency`,
		"refund before its charge":         `SELECT count(*) FROM refunds r JOIN charges c ON c.id = r.charge WHERE r.created < c.created`,
		"lines do not add up to subtotal": `
SELECT count(*) FROM invoices i
 WHERE i.subtotal <> (SELECT sum(amount) FROM invoice_lines l WHERE l.invoice = i.id)
    OR i.lines_total_count <> (SELECT count(*) FROM invoice_lines l WHERE l.invoice = i.id)`,
		"total is not subtotal + tax":            `SELECT count(*) FROM invoices WHERE total <> subtotal + coalesce(tax, 0) OR amount_due <> total`,
		"line currency differs":                  `SELECT count(*) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice WHERE l.currency <> i.currency`,
		"invoice currency is not the customer's": `SELECT count(*) FROM invoices i JOIN customers c ON c.id = i.customer WHERE i.currency <> c.currency`,
		"charge currency is not the customer's":  `SELECT count(*) FROM charges h JOIN customers c ON c.id = h.customer WHERE h.currency <> c.currency`,
		"invoice of a missing customer":          `SELECT count(*) FROM invoices i WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = i.customer)`,
		"charge of a missing customer":           `SELECT count(*) FROM charges h WHERE h.customer IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = h.customer)`,
		"object created before its customer": `
SELECT (SELECT count(*) FROM invoices i JOIN customers c ON c.id = i.customer WHERE i.created < c.created)
     + (SELECT count(*) FROM charges h JOIN customers c ON c.id = h.customer WHERE h.created < c.created)`,
		"paid amounts inconsistent with status": `
SELECT count(*) FROM invoices
 WHERE (status = 'paid' AND (amount_paid <> total OR amount_remaining <> 0))
    OR (status IN ('open', 'draft', 'uncollectible') AND (amount_paid <> 0 OR amount_remaining <> amount_due))
    OR (status = 'void' AND (amount_paid <> 0 OR amount_remaining <> 0))`,
		"finalized invoice without number or URLs": `
SELECT count(*) FROM invoices
 WHERE (status <> 'draft' AND (number IS NULL OR hosted_invoice_url NOT LIKE 'https://%' OR invoice_pdf NOT LIKE 'https://%'))
    OR (status = 'draft' AND (number IS NOT NULL OR hosted_invoice_url IS NOT NULL))`,
		"invoice number taken twice": `SELECT count(*) - count(DISTINCT number) FROM invoices WHERE number IS NOT NULL`,
		"invoice charge link broken": `
SELECT count(*) FROM invoices i
 WHERE i.charge IS NOT NULL AND NOT EXISTS (SELECT 1 FROM charges c WHERE c.id = i.charge AND c.invoice = i.id AND c.amount = i.amount_due)`,
		"paid invoice's charge not succeeded": `SELECT count(*) FROM invoices i JOIN charges c ON c.id = i.charge WHERE i.status = 'paid' AND c.status <> 'succeeded'`,
		"charge names an invoice that does not name it": `
SELECT count(*) FROM charges c WHERE c.invoice IS NOT NULL AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.id = c.invoice AND i.charge = c.id)`,
		"succeeded charge inconsistent": `
SELECT count(*) FROM charges
 WHERE status = 'succeeded' AND (amount_captured <> amount OR NOT paid OR receipt_number IS NULL OR failure_code IS NOT NULL)`,
		"failed charge inconsistent": `
SELECT count(*) FROM charges WHERE status = 'failed' AND (failure_code IS NULL OR failure_message IS NULL OR paid OR amount_captured <> 0 OR disputed)`,
		"charge without card":       `SELECT count(*) FROM charges WHERE card_brand IS NULL OR card_last4 !~ '^[0-9]{4}$'`,
		"created outside two years": `SELECT count(*) FROM charges WHERE created > '2026-03-14 15:09:26Z' OR created < '2024-03-13Z'`,
		"refund status or reason":   `SELECT count(*) FROM refunds WHERE status NOT IN ('succeeded', 'pending', 'failed') OR reason NOT IN ('duplicate', 'fraudulent', 'requested_by_customer')`,
		"typed columns differ from the data": `
SELECT (SELECT count(*) FROM charges WHERE (data->>'amount')::bigint <> amount OR (data->>'amount_refunded')::bigint <> amount_refunded
          OR data->>'status' <> status OR (data->>'refunded')::boolean <> refunded OR data->>'currency' <> currency
          OR data->'payment_method_details'->'card'->>'last4' <> card_last4 OR data->>'id' <> id
          OR (data->>'created')::bigint <> extract(epoch FROM created)::bigint)
     + (SELECT count(*) FROM invoices WHERE (data->>'total')::bigint <> total OR data->>'status' <> status
          OR data->>'customer' <> customer OR jsonb_array_length(data->'lines'->'data') <> lines_total_count
          OR data->>'number' IS DISTINCT FROM number)
     + (SELECT count(*) FROM customers WHERE data->>'email' IS DISTINCT FROM email OR data->>'name' IS DISTINCT FROM name
          OR (data->>'delinquent')::boolean <> delinquent OR coalesce((data->>'deleted')::boolean, false) <> deleted)
     + (SELECT count(*) FROM refunds WHERE (data->>'amount')::bigint <> amount OR data->>'charge' <> charge)`,
	}
	for what, q := range broken {
		if n := count(q); n != 0 {
			t.Errorf("%s: %d rows", what, n)
		}
	}

	// Ids are primary keys; check their shapes and that no id is shared
	// across tables.
	if n := count(`SELECT count(*) FROM customers WHERE id !~ '^cus_[0-9A-Za-z]{14}$'`); n != 0 {
		t.Errorf("%d customer ids not shaped like Stripe's", n)
	}
	if n := count(`SELECT count(*) FROM charges WHERE id !~ '^ch_[0-9A-Za-z]{24}$'`); n != 0 {
		t.Errorf("%d charge ids not shaped like Stripe's", n)
	}
	if n := count(`SELECT count(*) - count(DISTINCT payment_intent) FROM charges`); n != 0 {
		t.Errorf("%d payment intents shared", n)
	}

	// The variety the demo needs is there.
	present := map[string]string{
		"every invoice status":       `SELECT count(DISTINCT status) = 5 FROM invoices`,
		"past-due open invoices":     `SELECT count(*) > 0 FROM invoices WHERE status = 'open' AND due_date < '2026-03-14Z'`,
		"every charge status":        `SELECT count(DISTINCT status) = 3 FROM charges`,
		"fully refunded charges":     `SELECT count(*) > 0 FROM charges WHERE refunded`,
		"partially refunded":         `SELECT count(*) > 0 FROM charges WHERE amount_refunded > 0 AND NOT refunded`,
		"several refunds a charge":   `SELECT count(*) > 0 FROM (SELECT charge FROM refunds GROUP BY charge HAVING count(*) > 1) x`,
		"disputed charges":           `SELECT count(*) > 0 FROM charges WHERE disputed`,
		"zero- and three-decimal":    `SELECT count(DISTINCT currency) FILTER (WHERE currency IN ('jpy', 'bhd', 'kwd')) >= 2 FROM charges`,
		"totals above 2^31":          `SELECT count(*) > 0 FROM invoices WHERE total > 2147483647`,
		"unicode names":              `SELECT count(*) > 0 FROM customers WHERE name ~ '[^\x01-\x7f]'`,
		"deleted customers":          `SELECT count(*) > 0 FROM customers WHERE deleted`,
		"delinquent customers":       `SELECT count(*) > 0 FROM customers WHERE delinquent`,
		"customers with metadata":    `SELECT count(*) > 0 FROM customers WHERE data->'metadata' <> '{}'`,
		"paid out of band":           `SELECT count(*) > 0 FROM invoices WHERE status = 'paid' AND charge IS NULL AND (data->>'paid_out_of_band')::boolean`,
		"pending and failed refunds": `SELECT count(DISTINCT status) = 3 FROM refunds`,
	}
	for what, q := range present {
		var ok bool
		if err := st.DB().GetContext(ctx, &ok, q); err != nil || !ok {
			t.Errorf("%s: missing (%v)", what, err)
		}
	}
	// VACUUM (ANALYZE) ran.
	if n := count(`SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('customers', 'invoices', 'invoice_lines', 'charges', 'refunds') AND last_analyze IS NOT NULL AND last_vacuum IS NOT NULL`); n != 5 {
		t.Errorf("%d of 5 tables vacuumed and analyzed", n)
	}
}

// digest is a fingerprint of every row's data, for comparing runs.
func digest(t *testing.T, st *store.Store) string {
	t.Helper()
	var d string
	err := st.DB().Get(&d, `
SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT md5(data::text) AS x FROM customers UNION ALL SELECT md5(data::text) FROM invoices
  UNION ALL SELECT md5(data::text) FROM invoice_lines UNION ALL SELECT md5(data::text) FROM charges
  UNION ALL SELECT md5(data::text) FROM refunds) a`)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSeedDeterministic(t *testing.T) {
	ctx := context.Background()
	a, b, c := storetest.New(t), storetest.New(t), storetest.New(t)
	o := store.SeedOptions{Customers: 50, Invoices: 120, Charges: 300, Refunds: 40, Seed: 99, Now: seedNow}
	for _, st := range []*store.Store{a, b} {
		if _, err := st.Seed(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	o.Seed = 100
	if _, err := c.Seed(ctx, o); err != nil {
		t.Fatal(err)
	}
	if da, db := digest(t, a), digest(t, b); da != db {
		t.Errorf("the same seed gave different rows: %s, %s", da, db)
	}
	if digest(t, a) == digest(t, c) {
		t.Errorf("different seeds gave the same rows")
	}
}

func TestSeedRefusesNonEmptyMirror(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	o := store.SeedOptions{Customers: 5, Invoices: 5, Charges: 10, Refunds: 2, Seed: 1, Now: seedNow}
	if _, err := st.Seed(ctx, o); err != nil {
		t.Fatal(err)
	}
	_, err := st.Seed(ctx, o)
	var ne *store.MirrorNotEmptyError
	if !errors.As(err, &ne) || ne.Customers != 5 || ne.Charges != 10 {
		t.Fatalf("second seed: %v, want MirrorNotEmptyError with the counts", err)
	}
	o.Append = true
	if _, err := st.Seed(ctx, o); !errors.Is(err, store.ErrSeedCollision) {
		t.Fatalf("append with the same seed: %v, want ErrSeedCollision", err)
	}
	o.Seed = 2
	if _, err := st.Seed(ctx, o); err != nil {
		t.Fatalf("append with another seed: %v", err)
	}
	var n int
	if err := st.DB().Get(&n, `SELECT count(*) FROM customers`); err != nil || n != 10 {
		t.Fatalf("customers after append: %d, %v", n, err)
	}
}

func TestSeedRebuildsIndexes(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	// The definitions and the statistics targets of their columns: no
	// index has one since migration 00016 moved the searched expressions'
	// targets to generated columns, so the test gives one its own.
	st.DB().MustExecContext(ctx, `ALTER INDEX invoices_number_trgm_idx ALTER COLUMN 1 SET STATISTICS 1000`)
	const q = `SELECT string_agg(indexdef || coalesce(' stats ' || (
	    SELECT string_agg(a.attnum || '=' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_attribute a
	     WHERE a.attrelid = (schemaname || '.' || indexname)::regclass AND a.attstattarget > 0), ''), E'\n' ORDER BY indexname)
	  FROM pg_indexes WHERE tablename IN ('customers', 'invoices', 'invoice_lines', 'charges', 'refunds')`
	var before, after string
	if err := st.DB().GetContext(ctx, &before, q); err != nil {
		t.Fatal(err)
	}
	o := store.SeedOptions{Customers: 20, Invoices: 40, Charges: 80, Refunds: 10, Seed: 3, Now: seedNow, RebuildIndexesFrom: 1}
	sum, err := st.Seed(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DB().GetContext(ctx, &after, q); err != nil {
		t.Fatal(err)
	}
	if before != after || !strings.Contains(after, "gin_trgm_ops") || !strings.Contains(after, "stats 1=1000") {
		t.Errorf("indexes changed:\nbefore\n%s\nafter\n%s", before, after)
	}
	if sum.IndexTook["charges"] == 0 {
		t.Errorf("no index rebuild time for charges: %v", sum.IndexTook)
	}
	// The rebuilt indexes answer: an index scan finds a seeded charge.
	var id string
	if err := st.DB().GetContext(ctx, &id, `SELECT id FROM charges ORDER BY created DESC, id DESC LIMIT 1`); err != nil || id == "" {
		t.Fatalf("newest charge: %q, %v", id, err)
	}
}

func TestSeedImpossibleCounts(t *testing.T) {
	st := storetest.New(t)
	for _, o := range []store.SeedOptions{
		{Invoices: 3},
		{Customers: 1, Refunds: 2},
		{Customers: -1},
		{Customers: 1, Charges: 1, Refunds: 50},
	} {
		if _, err := st.Seed(context.Background(), o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	var n int
	if err := st.DB().Get(&n, `SELECT count(*) FROM customers`); err != nil || n != 0 {
		t.Fatalf("an impossible seed stored %d customers (%v)", n, err)
	}
}
