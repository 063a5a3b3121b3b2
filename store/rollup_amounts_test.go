package store_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/lib/pq"

	"paydesk/store"
	"paydesk/store/storetest"
)

// amountWorld drives random writes into charges and invoices and checks
// after each that the lists' totals for amount ranges, read from the
// amount rollups and the rows at the ranges' ends, equal the rows'
// aggregation.
type amountWorld struct {
	t       *testing.T
	st      *store.Store
	r       *rand.Rand
	version int64
	charges []string
	invs    []string
	// amounts are amounts stored at some point, for bounds that hit rows
	// exactly.
	amounts []int64
}

// amount is zero, on or next to a bucket edge, negative, or beyond 32 bits
// either way (small enough that no key's sum leaves int64).
func (w *amountWorld) amount() int64 {
	var a int64
	switch w.r.IntN(7) {
	case 0:
		a = 0
	case 1, 2:
		a = (w.r.Int64N(41)-20)*100 + []int64{-1, 0, 1, 50, 99}[w.r.IntN(5)]
	case 3:
		a = -(w.r.Int64N(100_000) + 1)
	case 4:
		a = w.r.Int64N(1<<40) + 1<<31
	case 5:
		a = -(w.r.Int64N(1<<40) + 1<<31)
	default:
		a = w.r.Int64N(100_000)
	}
	w.amounts = append(w.amounts, a)
	return a
}

// bound is an end of a range: a stored amount or its neighbour, a bucket
// edge, or anything.
func (w *amountWorld) bound() int64 {
	switch w.r.IntN(5) {
	case 0, 1:
		if len(w.amounts) > 0 {
			return w.amounts[w.r.IntN(len(w.amounts))] + w.r.Int64N(3) - 1
		}
		return 0
	case 2:
		return (w.r.Int64N(41) - 20) * 100
	case 3:
		return (w.r.Int64N(41)-20)*100 + 99
	default:
		return w.r.Int64N(2_000_000) - 1_000_000
	}
}

// ranges are amount ranges of every shape: aligned and not, inside one
// bucket, across two, open on either side, empty (max below min: the
// handlers refuse that, the store answers it), huge, at the ends of int64.
func (w *amountWorld) ranges(n int) [][2]*int64 {
	p := func(v int64) *int64 { return &v }
	out := [][2]*int64{
		{p(10_000), p(50_000)}, {p(-100), p(-1)}, {p(0), p(99)}, {p(-1), p(0)}, {nil, p(-1)}, {p(0), nil},
		{p(math.MinInt64), p(math.MaxInt64)}, {p(math.MinInt64), nil}, {nil, p(math.MaxInt64)},
		{p(1 << 31), nil}, {nil, p(-(1 << 31))}, {p(50), p(50)}, {p(120), p(180)}, {p(150), p(249)}, {p(7), p(3)},
	}
	for range n {
		lo, hi := w.bound(), w.bound()
		switch w.r.IntN(8) {
		case 0:
			out = append(out, [2]*int64{p(lo), nil})
		case 1:
			out = append(out, [2]*int64{nil, p(hi)})
		case 2:
			// One bucket or a part of one.
			out = append(out, [2]*int64{p(lo), p(lo + w.r.Int64N(100))})
		default:
			if lo > hi && w.r.IntN(4) != 0 {
				lo, hi = hi, lo
			}
			out = append(out, [2]*int64{p(lo), p(hi)})
		}
	}
	return out
}

func (w *amountWorld) charge(id string) store.Charge {
	w.version++
	amount := w.amount()
	c := store.Charge{ID: id, Amount: amount, Currency: rollupCurrencies[w.r.IntN(len(rollupCurrencies))],
		Status:  []string{"succeeded", "succeeded", "failed", "pending"}[w.r.IntN(4)],
		Created: time.Date(2025, 3, 1+w.r.IntN(28), w.r.IntN(24), 0, 0, 0, time.UTC), Data: rawJSON(id), Version: w.version}
	switch w.r.IntN(4) {
	case 0:
		c.AmountRefunded, c.Refunded = amount, true
	case 1:
		c.AmountRefunded = max(amount/2, 1)
	}
	c.Disputed = w.r.IntN(5) == 0
	return c
}

func (w *amountWorld) invoice(id string) store.Invoice {
	w.version++
	status := []string{"draft", "open", "open", "paid", "void", "uncollectible", ""}[w.r.IntN(7)]
	var sp *string
	if status != "" {
		sp = &status
	}
	total := w.amount()
	due := time.Now().Add(time.Duration(w.r.IntN(96)-48) * time.Hour)
	return store.Invoice{ID: id, Currency: rollupCurrencies[w.r.IntN(len(rollupCurrencies))], Status: sp, Total: total,
		AmountDue: total, AmountRemaining: total, DueDate: &due, Deleted: (status == "draft" || status == "open") && w.r.IntN(4) == 0,
		Created: time.Date(2025, 3, 1+w.r.IntN(28), 0, 0, 0, 0, time.UTC), Data: rawJSON(id), Version: w.version}
}

// writeRound upserts n random rows of each table over stored and new ids;
// some are stale versions, which change nothing.
func (w *amountWorld) writeRound(n int) {
	ctx := w.t.Context()
	var charges []store.Charge
	var invoices []store.Invoice
	for range n {
		id := fmt.Sprintf("ch_amt%d", len(w.charges))
		if len(w.charges) > 0 && w.r.IntN(3) != 0 {
			id = w.charges[w.r.IntN(len(w.charges))]
		} else {
			w.charges = append(w.charges, id)
		}
		c := w.charge(id)
		if w.r.IntN(6) == 0 {
			c.Version = 0
		}
		charges = append(charges, c)
		id = fmt.Sprintf("in_amt%d", len(w.invs))
		if len(w.invs) > 0 && w.r.IntN(3) != 0 {
			id = w.invs[w.r.IntN(len(w.invs))]
		} else {
			w.invs = append(w.invs, id)
		}
		inv := w.invoice(id)
		if w.r.IntN(6) == 0 {
			inv.Version = 0
		}
		invoices = append(invoices, inv)
	}
	if _, err := w.st.ApplyCharges(ctx, charges); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.st.ApplyInvoices(ctx, invoices); err != nil {
		w.t.Fatal(err)
	}
}

var amountLists = map[string][]string{
	"charges":  append([]string{""}, store.ChargeStatuses...),
	"invoices": {"", "draft", "open", "paid", "void", "uncollectible"},
}

// check compares the totals read both ways for every list, currency and
// status tab over n random ranges each (and the fixed ones), and that
// each rollup's keys sum to the rows' aggregation.
func (w *amountWorld) check(what string, n int) {
	w.t.Helper()
	ctx := w.t.Context()
	var compared, nonEmpty int
	for list, statuses := range amountLists {
		for _, cur := range rollupCurrencies {
			for _, status := range statuses {
				for _, rg := range w.ranges(n) {
					f := store.ListFilter{Currency: cur, Status: status, AmountMin: rg[0], AmountMax: rg[1]}
					rollup, used, raw, err := w.st.AmountTotalsBothWays(ctx, list, f)
					if err != nil {
						w.t.Fatalf("after %s: %s %s: %v", what, list, describe(f), err)
					}
					if !used {
						w.t.Fatalf("after %s: %s %s: amount rollup not used", what, list, describe(f))
					}
					if !reflect.DeepEqual(rollup, raw) {
						w.t.Fatalf("after %s: %s %s:\nrollup %+v\nrows   %+v", what, list, describe(f), rollup, raw)
					}
					compared++
					if len(raw) > 0 {
						nonEmpty++
					}
				}
			}
		}
	}
	// Most ranges must hold rows, or the comparisons prove little.
	var stored int
	if err := w.st.DB().GetContext(ctx, &stored, `SELECT (SELECT count(*) FROM charges) + (SELECT count(*) FROM invoices)`); err != nil {
		w.t.Fatal(err)
	}
	if stored > 0 && nonEmpty < compared/4 {
		w.t.Fatalf("after %s: only %d of %d ranges hold rows", what, nonEmpty, compared)
	}
	// Every key's delta rows sum to the rows' aggregation, and the
	// database's bucket is the reader's.
	for _, q := range []string{`
SELECT count(*) FROM (
    (SELECT currency, status, refunded, partially_refunded, disputed, bucket, sum(n), sum(amount)
     FROM rollup_charges_amount GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0 OR sum(amount) <> 0
     EXCEPT
     SELECT currency, status, refunded, amount_refunded > 0 AND NOT refunded, disputed,
            floor(amount::numeric / 100)::bigint, count(*), sum(amount)
     FROM charges GROUP BY 1, 2, 3, 4, 5, 6)
    UNION ALL
    (SELECT currency, status, refunded, amount_refunded > 0 AND NOT refunded, disputed,
            floor(amount::numeric / 100)::bigint, count(*), sum(amount)
     FROM charges GROUP BY 1, 2, 3, 4, 5, 6
     EXCEPT
     SELECT currency, status, refunded, partially_refunded, disputed, bucket, sum(n), sum(amount)
     FROM rollup_charges_amount GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0 OR sum(amount) <> 0)) d`, `
SELECT count(*) FROM (
    (SELECT currency, status, deleted, bucket, sum(n), sum(total)
     FROM rollup_invoices_amount GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 OR sum(total) <> 0
     EXCEPT
     SELECT currency, status, deleted, floor(total::numeric / 100)::bigint, count(*), sum(total)
     FROM invoices GROUP BY 1, 2, 3, 4)
    UNION ALL
    (SELECT currency, status, deleted, floor(total::numeric / 100)::bigint, count(*), sum(total)
     FROM invoices GROUP BY 1, 2, 3, 4
     EXCEPT
     SELECT currency, status, deleted, bucket, sum(n), sum(total)
     FROM rollup_invoices_amount GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 OR sum(total) <> 0)) d`} {
		var differ int
		if err := w.st.DB().GetContext(ctx, &differ, q); err != nil {
			w.t.Fatal(err)
		}
		if differ != 0 {
			w.t.Fatalf("after %s: %d keys of an amount rollup differ from the rows", what, differ)
		}
	}
	var amounts []int64
	if err := w.st.DB().SelectContext(ctx, &amounts, `SELECT amount FROM charges UNION SELECT total FROM invoices`); err != nil {
		w.t.Fatal(err)
	}
	var buckets []int64
	if err := w.st.DB().SelectContext(ctx, &buckets, `SELECT rollup_amount_bucket(a) FROM unnest($1::bigint[]) WITH ORDINALITY u(a, i) ORDER BY i`,
		pq.Array(amounts)); err != nil {
		w.t.Fatal(err)
	}
	for i, a := range amounts {
		if buckets[i] != store.AmountBucket(a) {
			w.t.Fatalf("bucket of %d: %d in the database, %d in Go", a, buckets[i], store.AmountBucket(a))
		}
	}
}

func describe(f store.ListFilter) string {
	s := func(p *int64) string {
		if p == nil {
			return "open"
		}
		return strconv.FormatInt(*p, 10)
	}
	return fmt.Sprintf("currency %q status %q amount [%s, %s]", f.Currency, f.Status, s(f.AmountMin), s(f.AmountMax))
}

// TestAmountRollupsEqualRows: the charges' and invoices' totals for a
// currency, an amount range and a status tab, read from the amount
// rollups plus the rows of the partial buckets at the range's ends, equal
// the rows' aggregation for ranges of every shape (aligned, unaligned,
// inside one bucket, open-ended, empty, negative, beyond 32 bits, the
// ends of int64); after inserts, upserts that move rows across buckets,
// statuses, flags and currencies, stale upserts, plain UPDATEs of the
// amount and of the flags, an UPDATE of no keyed column (which adds no
// delta row), deletes, a COPY seed, compaction and TRUNCATE.
func TestAmountRollupsEqualRows(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("ROLLUP_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("ROLLUP_SEED=%d", seed)
	st := storetest.New(t)
	ctx := t.Context()
	w := &amountWorld{t: t, st: st, r: rand.New(rand.NewPCG(seed, 15))}

	w.check("nothing stored", 2)
	w.writeRound(250)
	w.check("the inserts", 6)
	for round := range 3 {
		w.writeRound(80)
		w.check(fmt.Sprintf("upsert round %d", round), 3)
	}

	// Plain UPDATEs: amounts across a bucket edge (and within one), flags,
	// a status; each one statement over many rows.
	st.DB().MustExecContext(ctx, `UPDATE charges SET amount = amount + 1 WHERE id = ANY($1)`, pq.Array(w.charges[:60]))
	st.DB().MustExecContext(ctx, `UPDATE charges SET amount = -amount, disputed = NOT disputed WHERE id = ANY($1)`, pq.Array(w.charges[60:90]))
	st.DB().MustExecContext(ctx, `UPDATE charges SET refunded = NOT refunded, amount_refunded = amount_refunded + 1 WHERE id = ANY($1)`,
		pq.Array(w.charges[90:120]))
	st.DB().MustExecContext(ctx, `UPDATE invoices SET total = total - 1, status = 'paid' WHERE id = ANY($1)`, pq.Array(w.invs[:60]))
	st.DB().MustExecContext(ctx, `UPDATE invoices SET deleted = NOT deleted, total = total * 3 WHERE id = ANY($1)`, pq.Array(w.invs[60:90]))
	w.check("plain updates", 3)

	// An update of no keyed column adds no delta row.
	var before, after int
	count := `SELECT (SELECT count(*) FROM rollup_charges_amount) + (SELECT count(*) FROM rollup_invoices_amount)`
	if err := st.DB().GetContext(ctx, &before, count); err != nil {
		t.Fatal(err)
	}
	st.DB().MustExecContext(ctx, `UPDATE charges SET description = 'changed', amount_captured = amount_captured + 1`)
	st.DB().MustExecContext(ctx, `UPDATE invoices SET amount_remaining = 0, number = 'X'`)
	if err := st.DB().GetContext(ctx, &after, count); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("updates of no keyed column added %d delta rows", after-before)
	}

	st.DB().MustExecContext(ctx, `DELETE FROM charges WHERE id = ANY($1)`, pq.Array(w.charges[:25]))
	st.DB().MustExecContext(ctx, `DELETE FROM invoices WHERE id = ANY($1)`, pq.Array(w.invs[:25]))
	w.check("deletes", 3)

	// COPY: the seed's rows, with prices of every currency.
	if _, err := st.Seed(ctx, store.SeedOptions{Customers: 30, Invoices: 60, Charges: 200, Refunds: 10, Seed: seed, Append: true}); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().SelectContext(ctx, &w.amounts, `SELECT amount FROM charges UNION ALL SELECT total FROM invoices`); err != nil {
		t.Fatal(err)
	}
	w.check("a seed (COPY) and its compaction", 3)

	w.writeRound(60)
	if _, err := st.CompactRollups(ctx); err != nil {
		t.Fatal(err)
	}
	w.check("a compaction", 3)
	for _, r := range []struct{ table, keys string }{
		{"rollup_charges_amount", "currency, status, refunded, partially_refunded, disputed, bucket"},
		{"rollup_invoices_amount", "currency, status, deleted, bucket"},
	} {
		var rows, keys int
		if err := st.DB().GetContext(ctx, &rows, `SELECT count(*) FROM `+r.table); err != nil {
			t.Fatal(err)
		}
		if err := st.DB().GetContext(ctx, &keys, `SELECT count(*) FROM (SELECT DISTINCT `+r.keys+` FROM `+r.table+`) k`); err != nil {
			t.Fatal(err)
		}
		if rows != keys || rows == 0 {
			t.Errorf("after compaction: %s has %d rows for %d keys", r.table, rows, keys)
		}
	}
	// A zone change rebuilds the daily rollups and leaves these exact.
	if rebuilt, err := st.EnsureRollupZone(ctx, "Asia/Kathmandu"); err != nil || !rebuilt {
		t.Fatalf("EnsureRollupZone: %v %v", rebuilt, err)
	}
	w.writeRound(40)
	w.check("a zone change", 3)

	// Filters the rollup has no columns for fall back to the rows.
	p := func(v int64) *int64 { return &v }
	for list, f := range map[string]store.ListFilter{
		"invoices": {Currency: "usd", AmountMin: p(0), Status: "past_due"},
		"charges":  {Currency: "usd", AmountMin: p(0), Customer: "cus_1"},
	} {
		if _, used, _, err := st.AmountTotalsBothWays(ctx, list, f); err != nil || used {
			t.Errorf("%s %+v: amount rollup used %v (%v)", list, f, used, err)
		}
	}
	for _, f := range []store.ListFilter{
		{Currency: "usd", AmountMin: p(0), Query: "ch_"},
		{Currency: "usd", AmountMax: p(0), CreatedFrom: time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)},
		{Currency: "usd", AmountMax: p(0), CreatedTo: time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)},
		{Currency: "usd"},
	} {
		if _, used, _, err := st.AmountTotalsBothWays(ctx, "charges", f); err != nil || used {
			t.Errorf("charges %+v: amount rollup used %v (%v)", f, used, err)
		}
	}

	st.DB().MustExecContext(ctx, `TRUNCATE charges, invoices CASCADE`)
	var left int
	if err := st.DB().GetContext(ctx, &left, count); err != nil || left != 0 {
		t.Errorf("after TRUNCATE: %d delta rows (%v)", left, err)
	}
	w.check("TRUNCATE", 2)
	w.writeRound(50)
	w.check("inserts after TRUNCATE", 2)
}

// TestAmountTotalsUseRollup: the charges and invoices lists' totals for
// the benchmark's filter (usd, $100 to $500) and its status tabs come
// from the amount rollup: a delta row planted in a bucket inside the
// range shows in ChargeTotals and InvoiceTotals (the rows' aggregation
// would not see it), one planted in the partial bucket at the range's end
// does not (that bucket is read from the rows), and with a customer
// filter the totals are the rows' again.
func TestAmountTotalsUseRollup(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()
	var charges []store.Charge
	var invoices []store.Invoice
	paid, open := "paid", "open"
	for i, a := range []int64{9_999, 10_000, 10_001, 25_000, 49_999, 50_000, 50_001, 50_099, 70_000} {
		id := fmt.Sprintf("ch_b%d", i)
		charges = append(charges, store.Charge{ID: id, Amount: a, Currency: "usd", Status: "succeeded",
			Created: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Data: rawJSON(id), Version: 1})
		id = fmt.Sprintf("in_b%d", i)
		status := &paid
		if i%2 == 0 {
			status = &open
		}
		invoices = append(invoices, store.Invoice{ID: id, Currency: "usd", Status: status, Total: a, AmountDue: a,
			Created: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Data: rawJSON(id), Version: 1})
	}
	if _, err := st.UpsertCharges(ctx, charges); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertInvoices(ctx, invoices); err != nil {
		t.Fatal(err)
	}
	p := func(v int64) *int64 { return &v }
	bench := store.ListFilter{Currency: "usd", AmountMin: p(10_000), AmountMax: p(50_000)}
	succeeded, paidTab := bench, bench
	succeeded.Status, paidTab.Status = "succeeded", "paid"
	// 10,000 + 10,001 + 25,000 + 49,999 + 50,000.
	want := map[string][]store.CurrencyTotal{
		"charges":  {{Currency: "usd", Count: 5, Amount: 145_000}},
		"invoices": {{Currency: "usd", Count: 5, Amount: 145_000}},
		// in_b1, in_b3, in_b5 of those are paid.
		"invoices paid": {{Currency: "usd", Count: 3, Amount: 10_000 + 25_000 + 50_000}},
	}
	totals := map[string]func() ([]store.CurrencyTotal, error){
		"charges":           func() ([]store.CurrencyTotal, error) { return st.ChargeTotals(ctx, bench) },
		"charges succeeded": func() ([]store.CurrencyTotal, error) { return st.ChargeTotals(ctx, succeeded) },
		"invoices":          func() ([]store.CurrencyTotal, error) { return st.InvoiceTotals(ctx, bench) },
		"invoices paid":     func() ([]store.CurrencyTotal, error) { return st.InvoiceTotals(ctx, paidTab) },
	}
	want["charges succeeded"] = want["charges"]
	for name, fn := range totals {
		if got, err := fn(); err != nil || !reflect.DeepEqual(got, want[name]) {
			t.Fatalf("%s: %+v (%v), want %+v", name, got, err, want[name])
		}
	}
	// Bucket 300 ($300.00-$300.99) is inside the range; bucket 500 holds
	// $500.00, the range's last amount, and $500.01-$500.99 outside it.
	st.DB().MustExecContext(ctx, `
INSERT INTO rollup_charges_amount (currency, status, refunded, partially_refunded, disputed, bucket, n, amount)
VALUES ('usd', 'succeeded', false, false, false, 300, 1, 30042), ('usd', 'succeeded', false, false, false, 500, 1, 50050)`)
	st.DB().MustExecContext(ctx, `
INSERT INTO rollup_invoices_amount (currency, status, deleted, bucket, n, total)
VALUES ('usd', 'paid', false, 300, 1, 30042), ('usd', 'paid', false, 500, 1, 50050)`)
	for name, fn := range totals {
		got, err := fn()
		w := want[name][0]
		w.Count, w.Amount = w.Count+1, w.Amount+30042
		if err != nil || !reflect.DeepEqual(got, []store.CurrencyTotal{w}) {
			t.Errorf("%s with a planted delta row: %+v (%v), want %+v: the totals did not come from the amount rollup", name, got, err, w)
		}
	}
	// A filter the rollup cannot answer reads the rows.
	byCustomer := bench
	byCustomer.Customer = "cus_none"
	if got, err := st.ChargeTotals(ctx, byCustomer); err != nil || len(got) != 0 {
		t.Errorf("with a customer: %+v (%v)", got, err)
	}
}
