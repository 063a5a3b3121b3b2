package store_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// The searches read each way a search matches (id prefix, exact columns,
// the text columns) on its own and merge them (lists.go, searchArm). These
// tests compare every page and the totals with one straightforward query
// ORing the same conditions, on rows where one search term matches through
// several columns at once, through some and through none.

// searchCharges inserts n charges whose fields draw on a small vocabulary,
// so that the terms of searchTerms match rows through every column.
func searchCharges(t *testing.T, st *store.Store, n int) {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 5))
	emails := []string{"ann.lee@example.com", "ANN4242@Example.org", "bob@example.com", "cus_7@example.net", ""}
	names := []string{"Ann Lee", "Bob 4242", "Zoë Ann", "cus_7 Ltd", ""}
	last4s := []string{"4242", "0005", "1881", ""}
	curs := []string{"usd", "eur", "jpy"}
	var rows []chargeRow
	for i := range n {
		c := chargeRow{
			id:       fmt.Sprintf("ch_%03d", i),
			currency: curs[r.IntN(len(curs))], status: "succeeded",
			amount: int64(100 + r.IntN(5000)),
			email:  emails[r.IntN(len(emails))], name: names[r.IntN(len(names))], last4: last4s[r.IntN(len(last4s))],
			// Ties on created, so the id decides the order.
			minutes: r.IntN(n / 3),
		}
		if r.IntN(3) > 0 {
			c.customer = fmt.Sprintf("cus_%d", r.IntN(10))
		}
		if r.IntN(4) == 0 {
			c.receipt = fmt.Sprintf("R-%d", r.IntN(5))
		}
		if i%17 == 0 {
			// An id that another row's last 4, customer or receipt is.
			c.id = []string{"4242", "cus_7x", "R-1"}[i%3] + fmt.Sprint(i)
		}
		rows = append(rows, c)
	}
	insertCharges(t, st, rows...)
}

var searchTerms = []string{"4242", "ann", "ANN", "an", "cus_7", "R-1", "ch_01", "ch_", "example", "zoë", "nothing-matches", "%", "_"}

// wantCharges is the straightforward query of a charges search.
func wantCharges(t *testing.T, st *store.Store, q, order string) []string {
	t.Helper()
	var out []string
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace
	if err := st.DB().SelectContext(ctx, &out, `
SELECT id FROM charges
 WHERE id LIKE $1 OR customer = $2 OR card_last4 = $2 OR receipt_number = $2
    OR lower(receipt_email) LIKE $3 OR lower(billing_name) LIKE $3
 ORDER BY `+order, esc(q)+"%", q, "%"+esc(strings.ToLower(q))+"%"); err != nil {
		t.Fatal(err)
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// walk reads every page of f forwards, then each page before the last
// ones back from its successor's first row, and checks both directions
// give the same pages.
func walk(t *testing.T, st *store.Store, f store.ListFilter) []string {
	t.Helper()
	all := []string{}
	var pages [][]string
	var prevs []*store.Cursor
	for guard := 0; ; guard++ {
		p, err := st.ChargeList(ctx, f)
		if err != nil || guard > 1000 {
			t.Fatalf("%+v: %v", f, err)
		}
		pages = append(pages, chargeIDs(p))
		prevs = append(prevs, p.Prev)
		all = append(all, chargeIDs(p)...)
		if p.Next == nil {
			break
		}
		f.After = p.Next
	}
	for i := len(pages) - 1; i > 0; i-- {
		b := f
		b.After, b.Before = nil, prevs[i]
		p, err := st.ChargeList(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(chargeIDs(p), pages[i-1]) {
			t.Fatalf("%q: page %d backwards: got %v, want %v", f.Query, i-1, chargeIDs(p), pages[i-1])
		}
	}
	return all
}

func TestChargeSearchMatchesOneQuery(t *testing.T) { bothTermWays(t, testChargeSearchMatchesOneQuery) }

func testChargeSearchMatchesOneQuery(t *testing.T) {
	st := storetest.New(t)
	searchCharges(t, st, 240)
	for _, q := range searchTerms {
		for _, o := range []struct {
			sort, order string
			asc         bool
		}{
			{"", "created DESC, id DESC", false},
			{"created", "created ASC, id ASC", true},
			{"amount", "amount DESC, id DESC", false},
		} {
			want := wantCharges(t, st, q, o.order)
			got := walk(t, st, store.ListFilter{Query: q, Sort: o.sort, Asc: o.asc, Limit: 7})
			if !slices.Equal(got, want) {
				t.Errorf("search %q sorted %s: got %d rows %v, want %d rows %v", q, o.order, len(got), got, len(want), want)
			}
		}
	}
	// The terms above match through several arms at once.
	if n := len(wantCharges(t, st, "4242", "id")); n < 100 {
		t.Fatalf("4242 matches %d rows; the fixture should match it through last 4, email, name and id", n)
	}
}

func TestChargeSearchTotalsMatchOneQuery(t *testing.T) {
	bothTermWays(t, testChargeSearchTotalsMatchOneQuery)
}

func testChargeSearchTotalsMatchOneQuery(t *testing.T) {
	st := storetest.New(t)
	searchCharges(t, st, 240)
	for _, q := range searchTerms {
		got, err := st.ChargeTotals(ctx, store.ListFilter{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		var want []store.CurrencyTotal
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace
		if err := st.DB().SelectContext(ctx, &want, `
SELECT currency, count(*) AS count, sum(amount)::bigint AS amount FROM charges
 WHERE id LIKE $1 OR customer = $2 OR card_last4 = $2 OR receipt_number = $2
    OR lower(receipt_email) LIKE $3 OR lower(billing_name) LIKE $3
 GROUP BY 1 ORDER BY 2 DESC, 1`, esc(q)+"%", q, "%"+esc(strings.ToLower(q))+"%"); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("totals of %q: got %+v, want %+v", q, got, want)
		}
	}
}

// A search's other filters apply to every arm: a customer's charges with
// a status, searched.
func TestChargeSearchWithFilters(t *testing.T) { bothTermWays(t, testChargeSearchWithFilters) }

func testChargeSearchWithFilters(t *testing.T) {
	st := storetest.New(t)
	searchCharges(t, st, 240)
	st.DB().MustExecContext(ctx, `UPDATE charges SET status = 'failed' WHERE amount % 3 = 0`)
	for _, q := range []string{"4242", "ann", "cus_7"} {
		var want []string
		if err := st.DB().SelectContext(ctx, &want, `
SELECT id FROM charges
 WHERE status = 'failed' AND currency = 'usd'
   AND (id LIKE $1 OR customer = $2 OR card_last4 = $2 OR receipt_number = $2
        OR lower(receipt_email) LIKE $3 OR lower(billing_name) LIKE $3)
 ORDER BY created DESC, id DESC`, q+"%", q, "%"+strings.ToLower(q)+"%"); err != nil {
			t.Fatal(err)
		}
		p, err := st.ChargeList(ctx, store.ListFilter{Query: q, Status: "failed", Currency: "usd", Limit: store.MaxListLimit})
		if err != nil {
			t.Fatal(err)
		}
		if got := chargeIDs(p); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("failed usd charges matching %q: got %v, want %v", q, got, want)
		}
	}
}

// The totals of a search decided by one arm alone: a last 4 on exactly
// SearchTotalsLimit charges is added up, one more is withheld, however
// few rows the other arms add.
func TestSearchTotalsLimitLast4(t *testing.T) {
	st := storetest.New(t)
	add := func(from, to int) {
		st.DB().MustExecContext(ctx, `
INSERT INTO charges (id, livemode, amount, currency, status, card_last4, created, data, version)
SELECT 'ch_l4_' || i, false, i, 'usd', 'succeeded', '4242', $3::timestamptz + i * interval '1 second', '{}', 1
FROM generate_series($1::int, $2::int) AS i`, from, to, listBase)
	}
	add(1, store.SearchTotalsLimit)
	n := int64(store.SearchTotalsLimit)
	got, err := st.ChargeTotals(ctx, store.ListFilter{Query: "4242"})
	want := []store.CurrencyTotal{{Currency: "usd", Count: n, Amount: n * (n + 1) / 2}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("totals of %d charges with last 4 4242: %+v, %v; want %+v", n, got, err, want)
	}
	// A row another arm matches as well counts once.
	insertCharges(t, st, chargeRow{id: "ch_l4_x", currency: "usd", status: "succeeded", amount: 7, last4: "4242", email: "x4242@example.com", minutes: 1})
	if _, err := st.ChargeTotals(ctx, store.ListFilter{Query: "4242"}); !errors.Is(err, store.ErrSearchTooBroad) {
		t.Fatalf("totals of %d charges: %v; want ErrSearchTooBroad", n+1, err)
	}
	st.DB().MustExecContext(ctx, `DELETE FROM charges WHERE id = 'ch_l4_1'`)
	got, err = st.ChargeTotals(ctx, store.ListFilter{Query: "4242"})
	want = []store.CurrencyTotal{{Currency: "usd", Count: n, Amount: n*(n+1)/2 - 1 + 7}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("totals of %d charges, one matched twice: %+v, %v; want %+v", n, got, err, want)
	}
	// The page is the newest rows, from the last 4's index.
	p, err := st.ChargeList(ctx, store.ListFilter{Query: "4242", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	last := func(i int) string { return "ch_l4_" + strconv.Itoa(store.SearchTotalsLimit-i) }
	sameIDs(t, "newest 4242 charges", chargeIDs(p), last(0), last(1), last(2))
}

// Customers and invoices: a search matching through the id, the email and
// the name (customers), and the id, the customer, the number, the email
// and the name (invoices), paged and totalled, against one query.
func TestCustomerAndInvoiceSearchMatchOneQuery(t *testing.T) {
	bothTermWays(t, testCustomerAndInvoiceSearchMatchOneQuery)
}

func testCustomerAndInvoiceSearchMatchOneQuery(t *testing.T) {
	st := storetest.New(t)
	r := rand.New(rand.NewPCG(7, 7))
	emails := []string{"ann@example.com", "bob.ann@example.org", "cus_3@example.com", ""}
	names := []string{"Ann Lee", "Bob", "Lee Ann", "INV-7 Ltd", ""}
	for i := range 90 {
		st.DB().MustExecContext(ctx, `
INSERT INTO customers (id, livemode, email, name, currency, balance, deleted, created, data, version)
VALUES ($1, false, nullif($2, ''), nullif($3, ''), $4, $5, $6, $7, '{}', 1)`,
			fmt.Sprintf("cus_%d", i), emails[r.IntN(len(emails))], names[r.IntN(len(names))],
			[]string{"usd", "eur"}[r.IntN(2)], r.IntN(1000), r.IntN(10) == 0, listBase.Add(time.Duration(r.IntN(30))*time.Minute))
	}
	for i := range 150 {
		st.DB().MustExecContext(ctx, `
INSERT INTO invoices (id, livemode, customer, customer_email, customer_name, number, status, currency, total, deleted, created, data, version)
VALUES ($1, false, $2, nullif($3, ''), nullif($4, ''), $5, 'open', $6, $7, $8, $9, '{}', 1)`,
			fmt.Sprintf("in_%d", i), fmt.Sprintf("cus_%d", r.IntN(12)), emails[r.IntN(len(emails))], names[r.IntN(len(names))],
			fmt.Sprintf("INV-%d", r.IntN(40)), []string{"usd", "eur"}[r.IntN(2)], r.IntN(1000), r.IntN(10) == 0,
			listBase.Add(time.Duration(r.IntN(50))*time.Minute))
	}
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace
	for _, q := range []string{"ann", "cus_3", "cus_1", "inv-7", "INV-1", "in_1", "lee", "nobody"} {
		pre, sub := esc(q)+"%", "%"+esc(strings.ToLower(q))+"%"
		for _, o := range []struct {
			sort, order string
			asc         bool
		}{{"", "created DESC, id DESC", false}, {"name", "lower(coalesce(name, '')) ASC, id ASC", true}} {
			var want []string
			if err := st.DB().SelectContext(ctx, &want, `
SELECT id FROM customers WHERE NOT deleted AND (id LIKE $1 OR lower(email) LIKE $2 OR lower(name) LIKE $2)
 ORDER BY `+o.order, pre, sub); err != nil {
				t.Fatal(err)
			}
			got := []string{}
			f := store.ListFilter{Query: q, Sort: o.sort, Asc: o.asc, Limit: 4}
			for {
				p, err := st.CustomerList(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(p.Rows, func(c store.Customer) string { return c.ID })...)
				if p.Next == nil {
					break
				}
				f.After = p.Next
			}
			if !slices.Equal(got, append([]string{}, want...)) {
				t.Errorf("customers matching %q by %s: got %v, want %v", q, o.order, got, want)
			}
		}
		var want []string
		if err := st.DB().SelectContext(ctx, &want, `
SELECT id FROM invoices WHERE NOT deleted AND (id LIKE $1 OR customer = $3 OR lower(number) LIKE $2
       OR lower(customer_email) LIKE $2 OR lower(customer_name) LIKE $2)
 ORDER BY total DESC, id DESC`, pre, sub, q); err != nil {
			t.Fatal(err)
		}
		got := []string{}
		f := store.ListFilter{Query: q, Sort: "total", Limit: 6}
		for {
			p, err := st.InvoiceList(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(p.Rows, func(c store.Invoice) string { return c.ID })...)
			if p.Next == nil {
				break
			}
			f.After = p.Next
		}
		if !slices.Equal(got, append([]string{}, want...)) {
			t.Errorf("invoices matching %q by total: got %v, want %v", q, got, want)
		}
		var wantTotals []store.CurrencyTotal
		if err := st.DB().SelectContext(ctx, &wantTotals, `
SELECT currency, count(*) AS count, sum(total)::bigint AS amount FROM invoices
 WHERE NOT deleted AND (id LIKE $1 OR customer = $3 OR lower(number) LIKE $2
       OR lower(customer_email) LIKE $2 OR lower(customer_name) LIKE $2)
 GROUP BY 1 ORDER BY 2 DESC, 1`, pre, sub, q); err != nil {
			t.Fatal(err)
		}
		gotTotals, err := st.InvoiceTotals(ctx, store.ListFilter{Query: q})
		if err != nil || (!slices.Equal(gotTotals, wantTotals) && len(gotTotals)+len(wantTotals) > 0) {
			t.Errorf("invoice totals of %q: %+v, %v; want %+v", q, gotTotals, err, wantTotals)
		}
	}
}

// The searches find emails and names through search_terms (migration
// 00016), which triggers keep: these check the terms follow inserts,
// upserts, updates and COPY, and that a text longer than a term (200
// characters) is found by any part of it.
func TestSearchTermsFollowWrites(t *testing.T) { bothTermWays(t, testSearchTermsFollowWrites) }

func testSearchTermsFollowWrites(t *testing.T) {
	st := storetest.New(t)
	long := strings.Repeat("Ä", 199) + "bcneedle" + strings.Repeat("z", 50)
	insertCharges(t, st,
		chargeRow{id: "ch_moved", currency: "usd", status: "succeeded", amount: 100, email: "first.owner@example.com", name: "Ann Lee"},
		chargeRow{id: "ch_long", currency: "usd", status: "succeeded", amount: 200, email: "x@example.com", name: long, minutes: 1},
	)
	st.DB().MustExecContext(ctx, `UPDATE charges SET receipt_email = 'Second.Holder@Example.com' WHERE id = 'ch_moved'`)
	st.DB().MustExecContext(ctx, `
INSERT INTO charges (id, livemode, amount, currency, status, billing_name, created, data, version)
VALUES ('ch_moved', false, 100, 'usd', 'succeeded', 'Ann Lee', now(), '{}', 2)
ON CONFLICT (id) DO UPDATE SET billing_name = 'Renamed Person'`)
	check := func(q string, want []string) {
		t.Helper()
		if got := wantCharges(t, st, q, "id"); !slices.Equal(got, want) {
			t.Fatalf("straightforward query for %q: %v, want %v", q, got, want)
		}
		got := listCharges(t, st, store.ListFilter{Query: q})
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("charges matching %q: got %v, want %v", q, got, want)
		}
		totals, err := st.ChargeTotals(ctx, store.ListFilter{Query: q})
		if n := int64(0); err == nil {
			for _, x := range totals {
				n += x.Count
			}
			if n != int64(len(want)) {
				t.Errorf("totals of charges matching %q: %+v, want %d rows", q, totals, len(want))
			}
		} else {
			t.Fatal(err)
		}
	}
	texts := map[string][]string{
		"holder":      {"ch_moved"},
		"owner":       {},
		"renamed per": {"ch_moved"},
		"ann lee":     {},
		"needle":      {"ch_long"},
		"äbcn":        {"ch_long"},
		"ääää":        {"ch_long"},
		"zzz":         {"ch_long"},
	}
	for q, want := range texts {
		check(q, want)
	}
	// Two writers adding one new term at once both add it; each is still
	// read once, by the page and by the totals.
	st.DB().MustExecContext(ctx, `INSERT INTO search_terms (kind, term) SELECT kind, term FROM search_terms`)
	for q, want := range texts {
		check(q, want)
	}

	// COPY (the seed) adds its rows' terms in one statement.
	seeded := storetest.New(t)
	if _, err := seeded.Seed(ctx, store.SeedOptions{Customers: 30, Invoices: 60, Charges: 120, Refunds: 10, Seed: 9, Now: seedNow}); err != nil {
		t.Fatal(err)
	}
	var emails []string
	if err := seeded.DB().SelectContext(ctx, &emails,
		`SELECT DISTINCT split_part(email, '@', 1) FROM customers WHERE email IS NOT NULL ORDER BY 1 LIMIT 5`); err != nil || len(emails) == 0 {
		t.Fatalf("seeded emails: %v, %v", emails, err)
	}
	for _, q := range emails {
		want := wantCharges(t, seeded, q, "created DESC, id DESC")
		if got := walk(t, seeded, store.ListFilter{Query: q, Limit: 3}); !slices.Equal(got, want) {
			t.Errorf("seeded charges matching %q: got %v, want %v", q, got, want)
		}
	}
}

// bothTermWays runs test with the text searches reading their terms term
// by term (the few terms of these fixtures) and, with no term allowed that
// way, by checking each row's key for the text, as a common text is read
// (textArms); the totals then read the terms through a subquery.
func bothTermWays(t *testing.T, test func(*testing.T)) {
	t.Run("term by term", test)
	t.Run("common text", func(t *testing.T) {
		defer store.SetSearchTermsLimit(0)()
		test(t)
	})
}
