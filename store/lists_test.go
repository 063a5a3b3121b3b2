package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// listBase is the created time of the rows the list tests insert.
var listBase = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// chargeRow is a charge for the list tests: created minutes after listBase.
type chargeRow struct {
	id, customer, currency, status string
	amount, refundedAmount         int64
	refunded, disputed             bool
	email, name, last4, receipt    string
	minutes                        int
}

func insertCharges(t *testing.T, st *store.Store, rows ...chargeRow) {
	t.Helper()
	for _, r := range rows {
		st.DB().MustExecContext(ctx, `
INSERT INTO charges (id, livemode, customer, amount, amount_refunded, currency, status, refunded, disputed,
	receipt_email, billing_name, card_last4, receipt_number, created, data, version)
VALUES ($1, false, nullif($2, ''), $3, $4, $5, $6, $7, $8, nullif($9, ''), nullif($10, ''), nullif($11, ''),
	nullif($12, ''), $13, '{}', 1)`,
			r.id, r.customer, r.amount, r.refundedAmount, r.currency, r.status, r.refunded, r.disputed,
			r.email, r.name, r.last4, r.receipt, listBase.Add(time.Duration(r.minutes)*time.Minute))
	}
}

func ids[T any](rows []T, id func(T) string) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, id(r))
	}
	return out
}

func chargeIDs(p store.ListPage[store.Charge]) []string {
	return ids(p.Rows, func(c store.Charge) string { return c.ID })
}

func listCharges(t *testing.T, st *store.Store, f store.ListFilter) []string {
	t.Helper()
	p, err := st.ChargeList(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	return chargeIDs(p)
}

func sameIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func chargeFixture(t *testing.T) *store.Store {
	st := storetest.New(t)
	insertCharges(t, st,
		chargeRow{id: "ch_a1", customer: "cus_1", currency: "usd", status: "succeeded", amount: 1000, email: "Ann@Example.com", name: "Ann Lee", last4: "4242", receipt: "1111-2222", minutes: 1},
		chargeRow{id: "ch_a2", customer: "cus_2", currency: "usd", status: "failed", amount: 2500, email: "bob@example.com", name: "Bob <script>", last4: "0005", minutes: 2},
		chargeRow{id: "ch_b1", customer: "cus_1", currency: "eur", status: "succeeded", amount: 700, refundedAmount: 700, refunded: true, email: "ann@example.com", name: "Ann Lee", last4: "4242", minutes: 3},
		chargeRow{id: "ch_b2", currency: "usd", status: "succeeded", amount: 5000, refundedAmount: 100, email: "carl_x@example.org", name: "Carl 100%", last4: "1881", minutes: 4},
		chargeRow{id: "ch_c1", customer: "cus_3", currency: "jpy", status: "pending", amount: 3000000000, last4: "9999", minutes: 5},
		chargeRow{id: "ch_c2", customer: "cus_3", currency: "bhd", status: "succeeded", amount: 1234, disputed: true, minutes: 6},
	)
	return st
}

func TestChargeListFilters(t *testing.T) {
	st := chargeFixture(t)
	day := func(d int) time.Time { return listBase.AddDate(0, 0, d) }
	i64 := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name string
		f    store.ListFilter
		want []string
	}{
		{"all, newest first", store.ListFilter{}, []string{"ch_c2", "ch_c1", "ch_b2", "ch_b1", "ch_a2", "ch_a1"}},
		{"succeeded", store.ListFilter{Status: "succeeded"}, []string{"ch_c2", "ch_b2", "ch_b1", "ch_a1"}},
		{"failed", store.ListFilter{Status: "failed"}, []string{"ch_a2"}},
		{"pending", store.ListFilter{Status: "pending"}, []string{"ch_c1"}},
		{"refunded", store.ListFilter{Status: "refunded"}, []string{"ch_b1"}},
		{"partially refunded", store.ListFilter{Status: "partially_refunded"}, []string{"ch_b2"}},
		{"disputed", store.ListFilter{Status: "disputed"}, []string{"ch_c2"}},
		{"currency", store.ListFilter{Currency: "usd"}, []string{"ch_b2", "ch_a2", "ch_a1"}},
		{"amount range", store.ListFilter{Currency: "usd", AmountMin: i64(1000), AmountMax: i64(2500)}, []string{"ch_a2", "ch_a1"}},
		{"amount min only", store.ListFilter{Currency: "usd", AmountMin: i64(2501)}, []string{"ch_b2"}},
		{"customer", store.ListFilter{Customer: "cus_1"}, []string{"ch_b1", "ch_a1"}},
		{"created range", store.ListFilter{CreatedFrom: listBase.Add(2 * time.Minute), CreatedTo: listBase.Add(4 * time.Minute)}, []string{"ch_b1", "ch_a2"}},
		{"created before any", store.ListFilter{CreatedTo: day(-1)}, nil},
		{"search id prefix", store.ListFilter{Query: "ch_b"}, []string{"ch_b2", "ch_b1"}},
		{"search id exact", store.ListFilter{Query: "ch_a1"}, []string{"ch_a1"}},
		{"search email any case", store.ListFilter{Query: "ANN@example"}, []string{"ch_b1", "ch_a1"}},
		{"search name substring", store.ListFilter{Query: "lee"}, []string{"ch_b1", "ch_a1"}},
		{"search last4", store.ListFilter{Query: "4242"}, []string{"ch_b1", "ch_a1"}},
		{"search receipt number", store.ListFilter{Query: "1111-2222"}, []string{"ch_a1"}},
		{"search customer id", store.ListFilter{Query: "cus_3"}, []string{"ch_c2", "ch_c1"}},
		{"search LIKE wildcards are literal", store.ListFilter{Query: "100%"}, []string{"ch_b2"}},
		{"search underscore literal", store.ListFilter{Query: "l_x"}, []string{"ch_b2"}},
		{"search underscore is not a wildcard", store.ListFilter{Query: "ch_"}, []string{"ch_c2", "ch_c1", "ch_b2", "ch_b1", "ch_a2", "ch_a1"}},
		{"search and status", store.ListFilter{Query: "ann", Status: "refunded"}, []string{"ch_b1"}},
		{"search no match", store.ListFilter{Query: "zzz"}, nil},
		{"sort amount asc", store.ListFilter{Sort: "amount", Asc: true}, []string{"ch_b1", "ch_a1", "ch_c2", "ch_a2", "ch_b2", "ch_c1"}},
		{"sort amount desc", store.ListFilter{Sort: "amount"}, []string{"ch_c1", "ch_b2", "ch_a2", "ch_c2", "ch_a1", "ch_b1"}},
		{"sort created asc", store.ListFilter{Asc: true}, []string{"ch_a1", "ch_a2", "ch_b1", "ch_b2", "ch_c1", "ch_c2"}},
	} {
		t.Run(tc.name, func(t *testing.T) { sameIDs(t, tc.name, listCharges(t, st, tc.f), tc.want...) })
	}
}

func TestListFilterErrors(t *testing.T) {
	st := chargeFixture(t)
	n := int64(1)
	for _, tc := range []struct {
		f     store.ListFilter
		param string
	}{
		{store.ListFilter{Status: "bogus"}, "status"},
		{store.ListFilter{Sort: "data"}, "sort"},
		{store.ListFilter{Sort: "amount; DROP TABLE charges"}, "sort"},
		{store.ListFilter{AmountMin: &n}, "amount_min"},
		{store.ListFilter{AmountMax: &n}, "amount_max"},
		{store.ListFilter{DueFrom: listBase}, "due_from"},
		{store.ListFilter{After: &store.Cursor{Key: "yesterday", ID: "ch_a1"}}, "after"},
		{store.ListFilter{Sort: "amount", Before: &store.Cursor{Key: "1.5", ID: "ch_a1"}}, "before"},
	} {
		_, err := st.ChargeList(ctx, tc.f)
		var fe *store.FilterError
		if !errors.As(err, &fe) || fe.Param != tc.param {
			t.Errorf("%+v: got %v, want a FilterError for %s", tc.f, err, tc.param)
		}
	}
	if _, err := st.CustomerList(ctx, store.ListFilter{Customer: "cus_1"}); err == nil {
		t.Error("customers with a customer filter: no error")
	}
}

// TestChargeListPaging pages through rows that share their sort values, in
// both sort directions, forward to the end and back to the start.
func TestChargeListPaging(t *testing.T) {
	st := storetest.New(t)
	var rows []chargeRow
	for i := range 23 {
		// Three distinct created times and amounts, many ties on each.
		rows = append(rows, chargeRow{id: fmt.Sprintf("ch_%02d", i), currency: "usd", status: "succeeded",
			amount: int64(100 * (i % 4)), minutes: i % 3})
	}
	insertCharges(t, st, rows...)
	for _, sort := range []string{"created", "amount"} {
		for _, asc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s asc=%v", sort, asc), func(t *testing.T) {
				base := store.ListFilter{Sort: sort, Asc: asc}
				all := base
				all.Limit = 100
				want := listCharges(t, st, all)
				if len(want) != 23 {
					t.Fatalf("all rows: %d", len(want))
				}
				f := base
				f.Limit = 5
				var pages [][]string
				var got []string
				for {
					p, err := st.ChargeList(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					if len(pages) == 0 && p.Prev != nil {
						t.Error("first page has a previous page")
					}
					pages = append(pages, chargeIDs(p))
					got = append(got, chargeIDs(p)...)
					if p.Next == nil {
						break
					}
					f.After, f.Before = p.Next, nil
					if len(pages) > 10 {
						t.Fatal("paging does not end")
					}
				}
				sameIDs(t, "forward", got, want...)
				if len(pages) != 5 {
					t.Errorf("%d pages, want 5", len(pages))
				}
				// Back from the last page.
				p, err := st.ChargeList(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				for i := len(pages) - 2; i >= 0; i-- {
					if p.Prev == nil {
						t.Fatalf("page %d has no previous page", i+1)
					}
					f.After, f.Before = nil, p.Prev
					if p, err = st.ChargeList(ctx, f); err != nil {
						t.Fatal(err)
					}
					sameIDs(t, fmt.Sprintf("back to page %d", i), chargeIDs(p), pages[i]...)
					if p.Next == nil {
						t.Errorf("page %d going back has no next page", i)
					}
				}
				if p.Prev != nil {
					t.Error("back on the first page, there is still a previous page")
				}
			})
		}
	}
}

func TestListTotalsExact(t *testing.T) {
	st := chargeFixture(t)
	// More yen than an int32 holds, fils (three decimals) and cents.
	insertCharges(t, st,
		chargeRow{id: "ch_d1", currency: "jpy", status: "succeeded", amount: 2147483647, minutes: 7},
		chargeRow{id: "ch_d2", currency: "bhd", status: "succeeded", amount: 1, minutes: 8},
	)
	got, err := st.ChargeTotals(ctx, store.ListFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.CurrencyTotal{
		{Currency: "usd", Count: 3, Amount: 8500},
		{Currency: "bhd", Count: 2, Amount: 1235},
		{Currency: "jpy", Count: 2, Amount: 3000000000 + 2147483647},
		{Currency: "eur", Count: 1, Amount: 700},
	}
	if !slices.Equal(got, want) {
		t.Errorf("totals: got %+v, want %+v", got, want)
	}
	got, err = st.ChargeTotals(ctx, store.ListFilter{Status: "succeeded", Query: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	want = []store.CurrencyTotal{{Currency: "eur", Count: 1, Amount: 700}, {Currency: "usd", Count: 1, Amount: 1000}}
	if !slices.Equal(got, want) {
		t.Errorf("filtered totals: got %+v, want %+v", got, want)
	}
	// Totals ignore the page: the same with a cursor.
	got2, err := st.ChargeTotals(ctx, store.ListFilter{Status: "succeeded", Query: "ann", After: &store.Cursor{Key: "x", ID: "y"}, Limit: 1})
	if err != nil || !slices.Equal(got2, want) {
		t.Errorf("totals with a cursor: %+v %v", got2, err)
	}
}

func TestEachChargeStreamsEveryRowInOrder(t *testing.T) {
	st := chargeFixture(t)
	var got []string
	var amounts []int64
	err := st.EachCharge(ctx, store.ListFilter{Sort: "amount", Asc: true, Limit: 2, After: &store.Cursor{Key: "5", ID: "z"}},
		func(c *store.Charge) error {
			got = append(got, c.ID)
			amounts = append(amounts, c.Amount)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	// No paging: every row, whatever the limit and cursor.
	sameIDs(t, "export", got, "ch_b1", "ch_a1", "ch_c2", "ch_a2", "ch_b2", "ch_c1")
	if !slices.Equal(amounts, []int64{700, 1000, 1234, 2500, 5000, 3000000000}) {
		t.Errorf("amounts %v", amounts)
	}
	stop := errors.New("stop")
	n := 0
	err = st.EachCharge(ctx, store.ListFilter{}, func(*store.Charge) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("a callback error: %v after %d rows", err, n)
	}
}

func TestInvoiceListStatusesAndDue(t *testing.T) {
	st := storetest.New(t)
	now := time.Now()
	for i, r := range []struct {
		id, status, number, email, name string
		due                             *time.Time
		deleted                         bool
	}{
		{"in_1", "open", "AB-0001", "x@example.com", "Xavier", ptr(now.Add(-48 * time.Hour)), false},
		{"in_2", "open", "AB-0002", "y@example.com", "Yolanda", ptr(now.Add(48 * time.Hour)), false},
		{"in_3", "paid", "CD-0001", "x@example.com", "Xavier", nil, false},
		{"in_4", "draft", "", "z@example.com", "Zoë", nil, false},
		{"in_5", "draft", "", "z@example.com", "Zoë", nil, true},
		{"in_6", "void", "CD-0002", "z@example.com", "Zoë", ptr(now.Add(-96 * time.Hour)), false},
		{"in_7", "uncollectible", "CD-0003", "w@example.com", "Wu", nil, false},
	} {
		st.DB().MustExecContext(ctx, `
INSERT INTO invoices (id, livemode, customer, customer_email, customer_name, number, status, currency, total, amount_due,
	due_date, created, deleted, data, version)
VALUES ($1, false, 'cus_' || $4, $4, $5, nullif($3, ''), $2, 'usd', $6, $6, $7, $8, $9, '{}', 1)`,
			r.id, r.status, r.number, r.email, r.name, int64(100*(i+1)), r.due, listBase.Add(time.Duration(i)*time.Minute), r.deleted)
	}
	list := func(f store.ListFilter) []string {
		p, err := st.InvoiceList(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return ids(p.Rows, func(i store.Invoice) string { return i.ID })
	}
	sameIDs(t, "all (deleted left out)", list(store.ListFilter{}), "in_7", "in_6", "in_4", "in_3", "in_2", "in_1")
	sameIDs(t, "open", list(store.ListFilter{Status: "open"}), "in_2", "in_1")
	sameIDs(t, "past due", list(store.ListFilter{Status: "past_due"}), "in_1")
	sameIDs(t, "draft", list(store.ListFilter{Status: "draft"}), "in_4")
	sameIDs(t, "paid", list(store.ListFilter{Status: "paid"}), "in_3")
	sameIDs(t, "void", list(store.ListFilter{Status: "void"}), "in_6")
	sameIDs(t, "uncollectible", list(store.ListFilter{Status: "uncollectible"}), "in_7")
	sameIDs(t, "due range", list(store.ListFilter{DueFrom: now.Add(-72 * time.Hour), DueTo: now}), "in_1")
	sameIDs(t, "sort due date asc (none last)", list(store.ListFilter{Sort: "due_date", Asc: true}), "in_6", "in_1", "in_2", "in_3", "in_4", "in_7")
	sameIDs(t, "sort number desc", list(store.ListFilter{Sort: "number"}), "in_7", "in_6", "in_3", "in_2", "in_1", "in_4")
	sameIDs(t, "sort total desc", list(store.ListFilter{Sort: "total"}), "in_7", "in_6", "in_4", "in_3", "in_2", "in_1")
	sameIDs(t, "search number", list(store.ListFilter{Query: "ab-"}), "in_2", "in_1")
	sameIDs(t, "search customer name", list(store.ListFilter{Query: "ZOË"}), "in_6", "in_4")
	sameIDs(t, "search customer email", list(store.ListFilter{Query: "x@exa"}), "in_3", "in_1")
	sameIDs(t, "customer", list(store.ListFilter{Customer: "cus_x@example.com"}), "in_3", "in_1")
	// Paging by due date, ties on the sentinel for invoices without one.
	f := store.ListFilter{Sort: "due_date", Asc: true, Limit: 4}
	p1, err := st.InvoiceList(ctx, f)
	if err != nil || p1.Next == nil {
		t.Fatalf("due date page 1: %v %v", err, p1.Next)
	}
	f.After = p1.Next
	p2, err := st.InvoiceList(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "due date page 2", ids(p2.Rows, func(i store.Invoice) string { return i.ID }), "in_4", "in_7")
	totals, err := st.InvoiceTotals(ctx, store.ListFilter{Status: "open"})
	if err != nil || !slices.Equal(totals, []store.CurrencyTotal{{Currency: "usd", Count: 2, Amount: 300}}) {
		t.Errorf("open totals %+v %v", totals, err)
	}
	if _, err := st.InvoiceListRow(ctx, "in_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown invoice row: %v", err)
	}
}

func TestCustomerAndRefundLists(t *testing.T) {
	st := storetest.New(t)
	for i, c := range []struct {
		id, email, name, currency string
		deleted                   bool
	}{
		{"cus_1", "ann@example.com", "Ann", "usd", false},
		{"cus_2", "bob@example.com", "Bob", "eur", false},
		{"cus_3", "gone@example.com", "Gone", "usd", true},
		{"cus_4", "", "", "", false},
	} {
		st.DB().MustExecContext(ctx, `
INSERT INTO customers (id, livemode, email, name, currency, balance, deleted, created, data, version)
VALUES ($1, false, nullif($2, ''), nullif($3, ''), nullif($4, ''), $5, $6, $7, '{}', 1)`,
			c.id, c.email, c.name, c.currency, int64(-100*i), c.deleted, listBase.Add(time.Duration(i)*time.Minute))
	}
	list := func(f store.ListFilter) []string {
		p, err := st.CustomerList(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return ids(p.Rows, func(c store.Customer) string { return c.ID })
	}
	sameIDs(t, "default hides deleted", list(store.ListFilter{}), "cus_4", "cus_2", "cus_1")
	sameIDs(t, "deleted", list(store.ListFilter{Status: "deleted"}), "cus_3")
	sameIDs(t, "all", list(store.ListFilter{Status: "all"}), "cus_4", "cus_3", "cus_2", "cus_1")
	sameIDs(t, "search name", list(store.ListFilter{Query: "an"}), "cus_1")
	sameIDs(t, "search email", list(store.ListFilter{Query: "BOB@"}), "cus_2")
	sameIDs(t, "currency", list(store.ListFilter{Currency: "usd", Status: "all"}), "cus_3", "cus_1")
	sameIDs(t, "sort name asc", list(store.ListFilter{Sort: "name", Asc: true}), "cus_4", "cus_1", "cus_2")
	sameIDs(t, "sort balance asc", list(store.ListFilter{Sort: "balance", Asc: true}), "cus_4", "cus_2", "cus_1")
	totals, err := st.CustomerTotals(ctx, store.ListFilter{})
	want := []store.CurrencyTotal{{Currency: "", Count: 1, Amount: -300}, {Currency: "eur", Count: 1, Amount: -100}, {Currency: "usd", Count: 1, Amount: 0}}
	if err != nil || !slices.Equal(totals, want) {
		t.Errorf("customer totals %+v %v, want %+v", totals, err, want)
	}

	insertCharges(t, st,
		chargeRow{id: "ch_1", customer: "cus_1", currency: "usd", status: "succeeded", amount: 1000, receipt: "R-1"},
		chargeRow{id: "ch_2", customer: "cus_2", currency: "usd", status: "succeeded", amount: 1000})
	for i, r := range []struct{ id, charge, status, receipt string }{
		{"re_1", "ch_1", "succeeded", "R-1"},
		{"re_2", "ch_1", "pending", ""},
		{"re_3", "ch_2", "failed", ""},
	} {
		st.DB().MustExecContext(ctx, `
INSERT INTO refunds (id, livemode, charge, amount, currency, status, receipt_number, created, data, version)
VALUES ($1, false, $2, $3, 'usd', $4, nullif($5, ''), $6, '{}', 1)`, r.id, r.charge, int64(100*(i+1)), r.status, r.receipt,
			listBase.Add(time.Duration(i)*time.Minute))
	}
	refunds := func(f store.ListFilter) []string {
		p, err := st.RefundList(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return ids(p.Rows, func(r store.Refund) string { return r.ID })
	}
	sameIDs(t, "refunds", refunds(store.ListFilter{}), "re_3", "re_2", "re_1")
	sameIDs(t, "refunds pending", refunds(store.ListFilter{Status: "pending"}), "re_2")
	sameIDs(t, "refunds of a customer", refunds(store.ListFilter{Customer: "cus_1"}), "re_2", "re_1")
	sameIDs(t, "refunds by charge", refunds(store.ListFilter{Query: "ch_2"}), "re_3")
	sameIDs(t, "refunds by receipt", refunds(store.ListFilter{Query: "R-1"}), "re_1")
	sameIDs(t, "refunds by amount", refunds(store.ListFilter{Sort: "amount", Asc: true}), "re_1", "re_2", "re_3")
	rt, err := st.RefundTotals(ctx, store.ListFilter{Customer: "cus_1"})
	if err != nil || !slices.Equal(rt, []store.CurrencyTotal{{Currency: "usd", Count: 2, Amount: 300}}) {
		t.Errorf("refund totals %+v %v", rt, err)
	}
	r, err := st.RefundListRow(ctx, "re_2")
	if err != nil || r.Amount != 200 || *r.Status != "pending" {
		t.Errorf("refund row %+v %v", r, err)
	}
}

// A search's totals are exact up to SearchTotalsLimit matching rows and
// withheld, never estimated, past it; a filter without a search has no
// limit.
func TestSearchTotalsLimit(t *testing.T) { bothTermWays(t, testSearchTotalsLimit) }

func testSearchTotalsLimit(t *testing.T) {
	st := storetest.New(t)
	add := func(from, to int) {
		st.DB().MustExecContext(ctx, `
INSERT INTO charges (id, livemode, amount, currency, status, billing_name, created, data, version)
SELECT 'ch_many_' || i, false, 1000 + i, CASE WHEN i % 2 = 0 THEN 'usd' ELSE 'jpy' END, 'succeeded',
       'Ann Many ' || i, $3::timestamptz + i * interval '1 second', '{}', 1
FROM generate_series($1::int, $2::int) AS i`, from, to, listBase)
	}
	add(1, store.SearchTotalsLimit)
	// Every term stored twice, as two writers adding it at once leave it:
	// the totals still count each row once, and all of them.
	st.DB().MustExecContext(ctx, `INSERT INTO search_terms (kind, term) SELECT kind, term FROM search_terms`)
	got, err := st.ChargeTotals(ctx, store.ListFilter{Query: "ann many"})
	if err != nil {
		t.Fatal(err)
	}
	// i from 1 to 5000: usd takes the even i, jpy the odd ones.
	n := int64(store.SearchTotalsLimit)
	want := []store.CurrencyTotal{
		{Currency: "jpy", Count: n / 2, Amount: 1000*(n/2) + (n/2)*(n/2)},
		{Currency: "usd", Count: n / 2, Amount: 1000*(n/2) + (n/2)*(n/2+1)},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("totals of %d matches: got %+v, want %+v", n, got, want)
	}
	add(store.SearchTotalsLimit+1, store.SearchTotalsLimit+1)
	if got, err := st.ChargeTotals(ctx, store.ListFilter{Query: "ann many"}); !errors.Is(err, store.ErrSearchTooBroad) {
		t.Fatalf("totals of %d matches: %+v, %v; want ErrSearchTooBroad", n+1, got, err)
	}
	got, err = st.ChargeTotals(ctx, store.ListFilter{Status: "succeeded"})
	if err != nil || len(got) != 2 || got[0].Count+got[1].Count != n+1 {
		t.Fatalf("totals without a search: %+v, %v", got, err)
	}
}
