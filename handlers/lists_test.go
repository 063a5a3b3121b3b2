package handlers_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paydesk/handlers"
	"paydesk/store"
)

const listHostile = "<script>alert(1)</script> evil\u202Efdp 💸"

// listEnv is a signed-in viewer over a mirror holding a few charges,
// invoices, customers and refunds.
type listEnv struct {
	*staffEnv
	cookie *http.Cookie
}

func newListEnv(t *testing.T) *listEnv {
	t.Helper()
	e := newStaffEnv(t, handlers.Config{})
	db := e.st.DB()
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, c := range []struct {
		id, customer, currency, status, email, name, last4 string
		amount, refunded                                   int64
	}{
		{"ch_1", "cus_1", "usd", "succeeded", "ann@example.com", "Ann", "4242", 123456, 0},
		{"ch_2", "cus_1", "jpy", "succeeded", "ann@example.com", "Ann", "4242", 3000000000, 0},
		{"ch_3", "cus_2", "bhd", "failed", "=HYPERLINK(\"http://x\")", listHostile, "0005", 1234, 0},
		{"ch_4", "cus_2", "usd", "succeeded", "-2+3@example.com", "@SUM(A1)", "1881", 500, 200},
	} {
		db.MustExecContext(context.Background(), `
INSERT INTO charges (id, livemode, customer, amount, amount_refunded, currency, status, receipt_email, billing_name,
	card_brand, card_last4, created, data, version)
VALUES ($1, false, $2, $3, $4, $5, $6, $7, $8, 'visa', $9, $10, '{}', 1)`,
			c.id, c.customer, c.amount, c.refunded, c.currency, c.status, c.email, c.name, c.last4,
			base.Add(time.Duration(i)*time.Hour))
	}
	db.MustExecContext(context.Background(), `
INSERT INTO customers (id, livemode, email, name, currency, balance, created, data, version)
VALUES ('cus_1', false, 'ann@example.com', $1, 'usd', -250, $2, '{}', 1)`, listHostile, base)
	db.MustExecContext(context.Background(), `
INSERT INTO invoices (id, livemode, customer, customer_email, customer_name, number, status, currency, total, amount_due,
	due_date, created, data, version)
VALUES ('in_1', false, 'cus_1', 'ann@example.com', 'Ann', 'INV-1', 'open', 'usd', 5000, 5000, $1, $2, '{}', 1)`,
		base.AddDate(0, 0, 10), base)
	db.MustExecContext(context.Background(), `
INSERT INTO refunds (id, livemode, charge, amount, currency, status, reason, created, data, version)
VALUES ('re_1', false, 'ch_4', 200, 'usd', 'succeeded', 'requested_by_customer', $1, '{}', 1)`, base.Add(5*time.Hour))
	return &listEnv{staffEnv: e, cookie: e.mustLogin(store.RoleViewer)}
}

func (e *listEnv) page(path string, want int) *goquery.Document {
	e.t.Helper()
	return e.parsedPage(e.cookie, path, want)
}

func rowIDs(doc *goquery.Document) []string {
	out := []string{}
	doc.Find(`[data-testid="list-row"]`).Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.AttrOr("data-id", ""))
	})
	return out
}

func totals(doc *goquery.Document) map[string]string {
	out := map[string]string{}
	doc.Find(`[data-testid="total"]`).Each(func(_ int, s *goquery.Selection) {
		out[s.AttrOr("data-currency", "")] = strings.Join(strings.Fields(s.Text()), " ")
	})
	return out
}

func TestChargesListPage(t *testing.T) {
	e := newListEnv(t)
	doc := e.page("/charges", http.StatusOK)
	if got := rowIDs(doc); !slices.Equal(got, []string{"ch_4", "ch_3", "ch_2", "ch_1"}) {
		t.Errorf("rows %v", got)
	}
	tot := totals(doc)
	for cur, want := range map[string]string{
		"USD": "USD 2 charges $1,239.56",
		"JPY": "JPY 1 charge ¥3,000,000,000",
		"BHD": "BHD 1 charge BHD 1.234",
	} {
		if tot[cur] != want {
			t.Errorf("total %s: %q, want %q", cur, tot[cur], want)
		}
	}
	row := doc.Find(`tr#row-ch_4`)
	if row.AttrOr("hx-get", "") != "/charges/ch_4/row" || row.Find(`a[href="/charges/ch_4"]`).Length() != 1 {
		t.Errorf("row ch_4 does not follow its object or link to it: %s", goquery.NewDocumentFromNode(row.Nodes[0]).Text())
	}
	if !strings.Contains(row.Text(), "partially refunded") {
		t.Errorf("ch_4 has no partially refunded badge: %q", row.Text())
	}
	// Hostile text is text: no script element came from the data.
	if doc.Find("tbody script").Length() != 0 || !strings.Contains(doc.Find("tr#row-ch_3").Text(), listHostile) {
		t.Errorf("hostile billing name not shown as text")
	}

	doc = e.page("/charges?status=succeeded&currency=usd&amount_min=1000&amount_max=1234.56&q=ann", http.StatusOK)
	if got := rowIDs(doc); !slices.Equal(got, []string{"ch_1"}) {
		t.Errorf("filtered rows %v", got)
	}
	if doc.Find(`input[name="amount_max"]`).AttrOr("value", "") != "1234.56" || doc.Find(`input[name="status"]`).AttrOr("value", "") != "succeeded" {
		t.Error("the form does not keep the filter")
	}
	if got := totals(doc); len(got) != 1 || got["USD"] != "USD 1 charge $1,234.56" {
		t.Errorf("filtered totals %v", got)
	}
	if href := doc.Find(`[data-testid="csv-link"]`).AttrOr("href", ""); !strings.HasPrefix(href, "/charges.csv?") || !strings.Contains(href, "amount_min=1000") {
		t.Errorf("csv link %q", href)
	}
	doc = e.page("/charges?created_from=2025-03-01&created_to=2025-03-01&sort=amount&dir=asc", http.StatusOK)
	if got := rowIDs(doc); !slices.Equal(got, []string{"ch_4", "ch_3", "ch_1", "ch_2"}) {
		t.Errorf("sorted by amount %v", got)
	}
	if got := rowIDs(e.page("/charges?status=disputed", http.StatusOK)); len(got) != 0 {
		t.Errorf("disputed %v", got)
	}
	if got := rowIDs(e.page("/charges?customer=cus_2&q=0005", http.StatusOK)); !slices.Equal(got, []string{"ch_3"}) {
		t.Errorf("customer and last4 %v", got)
	}
}

func TestListPagingLinks(t *testing.T) {
	e := newListEnv(t)
	doc := e.page("/charges?limit=3", http.StatusOK)
	if got := rowIDs(doc); !slices.Equal(got, []string{"ch_4", "ch_3", "ch_2"}) {
		t.Fatalf("page 1 %v", got)
	}
	if doc.Find(`[data-testid="page-prev"]`).Length() != 0 {
		t.Error("page 1 has a previous link")
	}
	next := doc.Find(`[data-testid="page-next"]`)
	if next.AttrOr("hx-push-url", "") != "true" || next.AttrOr("hx-get", "") != next.AttrOr("href", "") {
		t.Error("next link is not enhanced with the same URL")
	}
	doc = e.page(next.AttrOr("href", ""), http.StatusOK)
	if got := rowIDs(doc); !slices.Equal(got, []string{"ch_1"}) {
		t.Fatalf("page 2 %v", got)
	}
	if doc.Find(`[data-testid="page-next"]`).Length() != 0 {
		t.Error("last page has a next link")
	}
	doc = e.page(doc.Find(`[data-testid="page-prev"]`).AttrOr("href", ""), http.StatusOK)
	if got := rowIDs(doc); !slices.Equal(got, []string{"ch_4", "ch_3", "ch_2"}) {
		t.Errorf("back to page 1 %v", got)
	}
}

func TestListBadParameters(t *testing.T) {
	e := newListEnv(t)
	for path, param := range map[string]string{
		"/charges?created_from=2025-13-01":                       "created_from",
		"/charges?created_to=yesterday":                          "created_to",
		"/charges?created_from=2025-03-02&created_to=2025-03-01": "created_to",
		"/charges?status=lost":                                   "status",
		"/charges?sort=data":                                     "sort",
		"/charges?dir=up":                                        "dir",
		"/charges?currency=usd&amount_min=1.001":                 "amount_min",
		"/charges?currency=jpy&amount_max=1.5":                   "amount_max",
		"/charges?amount_min=5":                                  "amount_min",
		"/charges?currency=dollars":                              "currency",
		"/charges?limit=1000":                                    "limit",
		"/charges?after=notacursor":                              "after",
		"/charges?due_from=2025-01-01":                           "due_from",
		"/customers?customer=cus_1":                              "customer",
		"/invoices?due_to=31/01/2025":                            "due_to",
		"/refunds?status=paid":                                   "status",
		"/charges.csv?status=lost":                               "status",
	} {
		doc := e.page(path, http.StatusBadRequest)
		msg := doc.Find(`[data-testid="list-error"]`).Text()
		if !strings.Contains(msg, "“"+param+"”") {
			t.Errorf("%s: error %q does not name %s", path, msg, param)
		}
	}
}

func TestListsOfEachKind(t *testing.T) {
	e := newListEnv(t)
	doc := e.page("/customers", http.StatusOK)
	if got := rowIDs(doc); !slices.Equal(got, []string{"cus_1"}) {
		t.Errorf("customers %v", got)
	}
	if !strings.Contains(doc.Find("tr#row-cus_1").Text(), listHostile) || doc.Find("tbody script").Length() != 0 {
		t.Error("hostile customer name not rendered as text")
	}
	if !strings.Contains(doc.Find("tr#row-cus_1").Text(), "-$2.50") {
		t.Errorf("customer balance: %q", doc.Find("tr#row-cus_1").Text())
	}
	doc = e.page("/invoices?status=open&due_from=2025-03-11&due_to=2025-03-11", http.StatusOK)
	if got := rowIDs(doc); !slices.Equal(got, []string{"in_1"}) {
		t.Errorf("invoices %v", got)
	}
	doc = e.page("/refunds?customer=cus_2", http.StatusOK)
	if got := rowIDs(doc); !slices.Equal(got, []string{"re_1"}) {
		t.Errorf("refunds %v", got)
	}
	if doc.Find(`tr#row-re_1 a[href="/charges/ch_4"]`).Length() != 1 {
		t.Error("refund row does not link its charge")
	}
}

func TestListRowEndpoint(t *testing.T) {
	e := newListEnv(t)
	rec := e.do(http.MethodGet, "/charges/ch_1/row", nil, e.cookie)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(body), `<tr id="row-ch_1"`) || strings.Contains(body, "<html") {
		t.Errorf("row: %d %s", rec.Code, body)
	}
	if !strings.Contains(body, "$1,234.56") {
		t.Errorf("row amount missing: %s", body)
	}
	for _, path := range []string{"/customers/cus_1/row", "/invoices/in_1/row", "/refunds/re_1/row"} {
		if rec := e.do(http.MethodGet, path, nil, e.cookie); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<tr") {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
	if rec := e.do(http.MethodGet, "/charges/ch_nope/row", nil, e.cookie); rec.Code != http.StatusNotFound {
		t.Errorf("unknown row: %d", rec.Code)
	}
	if rec := e.do(http.MethodGet, "/charges/ch_1/row", nil); !isLoginRedirect(rec) {
		t.Errorf("anonymous row: %d", rec.Code)
	}
	if rec := e.do(http.MethodGet, "/charges.csv", nil); !isLoginRedirect(rec) {
		t.Errorf("anonymous export: %d", rec.Code)
	}
}

func TestChargesCSVExport(t *testing.T) {
	e := newListEnv(t)
	rec := e.do(http.MethodGet, "/charges.csv?sort=amount&dir=asc&limit=1", nil, e.cookie)
	if rec.Code != http.StatusOK {
		t.Fatalf("export: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="charges-`) || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("content disposition %q", cd)
	}
	records, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"id", "created", "amount", "amount_refunded", "currency", "status", "refunded", "disputed", "customer",
			"billing_name", "receipt_email", "card_brand", "card_last4", "receipt_number", "invoice"},
		{"ch_4", "2025-03-01T15:00:00Z", "5.00", "2.00", "USD", "succeeded", "false", "false", "cus_2", "'@SUM(A1)", "'-2+3@example.com", "visa", "1881", "", ""},
		{"ch_3", "2025-03-01T14:00:00Z", "1.234", "0.000", "BHD", "failed", "false", "false", "cus_2", listHostile, `'=HYPERLINK("http://x")`, "visa", "0005", "", ""},
		{"ch_1", "2025-03-01T12:00:00Z", "1234.56", "0.00", "USD", "succeeded", "false", "false", "cus_1", "Ann", "ann@example.com", "visa", "4242", "", ""},
		{"ch_2", "2025-03-01T13:00:00Z", "3000000000", "0", "JPY", "succeeded", "false", "false", "cus_1", "Ann", "ann@example.com", "visa", "4242", "", ""},
	}
	if len(records) != len(want) {
		t.Fatalf("%d records, want %d: %v", len(records), len(want), records)
	}
	for i := range want {
		if !slices.Equal(records[i], want[i]) {
			t.Errorf("record %d:\n got %q\nwant %q", i, records[i], want[i])
		}
	}
	// The same filter as the page.
	rec = e.do(http.MethodGet, "/refunds.csv?customer=cus_2", nil, e.cookie)
	records, err = csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(records) != 2 || records[1][0] != "re_1" || records[1][2] != "2.00" || records[1][3] != "USD" {
		t.Errorf("refunds export: %v %v", records, err)
	}
	// Nothing matches: the header alone.
	rec = e.do(http.MethodGet, "/invoices.csv?status=void", nil, e.cookie)
	records, err = csv.NewReader(rec.Body).ReadAll()
	if err != nil || rec.Code != http.StatusOK || len(records) != 1 || records[0][0] != "id" {
		t.Errorf("empty export: %d %v %v", rec.Code, records, err)
	}
}

// A search matching more rows than the store adds up shows its rows and
// says why it shows no totals; a narrower search shows them.
func TestListSearchTooBroadForTotals(t *testing.T) {
	e := newListEnv(t)
	e.st.DB().MustExecContext(context.Background(), `
INSERT INTO charges (id, livemode, amount, currency, status, billing_name, created, data, version)
SELECT 'ch_broad_' || i, false, 100, 'usd', 'succeeded', 'Broad Search', now() - i * interval '1 minute', '{}', 1
FROM generate_series(1, $1::int) AS i`, store.SearchTotalsLimit+1)
	doc := e.page("/charges?q=broad", http.StatusOK)
	if n := len(rowIDs(doc)); n != store.DefaultListLimit {
		t.Errorf("%d rows, want a full page", n)
	}
	if note := doc.Find(`[data-testid="totals-withheld"]`).Text(); !strings.Contains(note, "More than 1,000 charges match this search") {
		t.Errorf("withheld totals note %q", note)
	}
	if doc.Find(`[data-testid="total"]`).Length() != 0 {
		t.Error("totals shown for a search past the limit")
	}
	doc = e.page("/charges?q=ann", http.StatusOK)
	if doc.Find(`[data-testid="totals-withheld"]`).Length() != 0 || totals(doc)["USD"] != "USD 1 charge $1,234.56" {
		t.Errorf("a narrow search lost its totals: %v", totals(doc))
	}
}
