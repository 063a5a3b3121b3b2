package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paydesk/handlers"
	"paydesk/store"
)

// overviewEnv is a staff environment whose display zone is Tokyo.
func overviewEnv(t *testing.T) (*staffEnv, *time.Location) {
	t.Helper()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return newStaffEnv(t, handlers.Config{Location: tokyo}), tokyo
}

func seedCharges(t *testing.T, st *store.Store, rows ...store.Charge) {
	t.Helper()
	for i := range rows {
		rows[i].Data, _ = json.Marshal(map[string]any{"id": rows[i].ID, "object": "charge"})
		rows[i].Version = 1
	}
	if _, err := st.UpsertCharges(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
}

// overviewPage GETs target as role and parses the answer, which must be
// status.
func overviewPage(t *testing.T, e *staffEnv, role store.Role, target string, status int) *goquery.Document {
	t.Helper()
	rec := e.do(http.MethodGet, target, nil, e.mustLogin(role))
	if rec.Code != status {
		t.Fatalf("GET %s: %d, want %d: %s", target, rec.Code, status, rec.Body)
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func cell(t *testing.T, doc *goquery.Document, currency, id string) string {
	t.Helper()
	s := doc.Find(`[data-testid="summary-` + currency + `"] [data-testid="` + id + `"]`)
	if s.Length() != 1 {
		t.Fatalf("summary %s %s: %d cells", currency, id, s.Length())
	}
	return strings.Join(strings.Fields(s.Text()), " ")
}

func TestOverviewFiguresAndChart(t *testing.T) {
	e, tokyo := overviewEnv(t)
	at := func(day, hour, min int) time.Time { return time.Date(2025, 3, day, hour, min, 0, 0, tokyo) }
	big := int64(3_000_000_000) // above 2^31
	seedCharges(t, e.st,
		store.Charge{ID: "ch_a", Amount: 1000, Currency: "usd", Status: "succeeded", Created: at(1, 0, 0)},
		store.Charge{ID: "ch_big", Amount: big, Currency: "usd", Status: "succeeded", Created: at(2, 9, 0)},
		store.Charge{ID: "ch_last", Amount: 250, Currency: "usd", Status: "succeeded", Created: at(3, 23, 30)},
		store.Charge{ID: "ch_next", Amount: 999, Currency: "usd", Status: "succeeded", Created: at(4, 0, 30)},
		store.Charge{ID: "ch_before", Amount: 999, Currency: "usd", Status: "succeeded", Created: at(1, 0, 0).Add(-time.Minute)},
		store.Charge{ID: "ch_fail", Amount: 500, Currency: "usd", Status: "failed", Created: at(2, 1, 0)},
		store.Charge{ID: "ch_jpy", Amount: 1235, Currency: "jpy", Status: "succeeded", Created: at(2, 1, 0)},
		store.Charge{ID: "ch_bhd", Amount: 1234, Currency: "bhd", Status: "succeeded", Created: at(3, 1, 0)},
	)
	data, _ := json.Marshal(map[string]any{"object": "refund"})
	if _, err := e.st.UpsertRefunds(context.Background(), []store.Refund{
		{ID: "re_1", Amount: 300, Currency: "usd", Status: ptrTo("succeeded"), Created: at(3, 2, 0), Data: data, Version: 1},
	}); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-72 * time.Hour)
	inv, _ := json.Marshal(map[string]any{"object": "invoice"})
	if _, err := e.st.UpsertInvoices(context.Background(), []store.Invoice{
		{ID: "in_due", Currency: "usd", Status: ptrTo("open"), AmountRemaining: 4200, DueDate: &past, Created: at(1, 1, 0), Data: inv, Version: 1},
		{ID: "in_open", Currency: "usd", Status: ptrTo("open"), AmountRemaining: 800, Created: at(1, 1, 0), Data: inv, Version: 1},
	}); err != nil {
		t.Fatal(err)
	}

	doc := overviewPage(t, e, store.RoleViewer, "/?period=custom&from=2025-03-01&to=2025-03-03", http.StatusOK)
	for id, want := range map[string]string{
		// 1000 + 3,000,000,000 + 250 cents; the 23:30 charge on the last
		// day counts, the ones at 00:30 after it and before the first
		// midnight do not.
		"gross": "$30,000,012.50", "refunds": "$3.00", "net": "$30,000,009.50",
		"payments": "3", "failed": "1", "open": "$50.00 2 open", "past-due": "$42.00 1 past due",
	} {
		if got := cell(t, doc, "usd", id); got != want {
			t.Errorf("usd %s = %q, want %q", id, got, want)
		}
	}
	if got := cell(t, doc, "jpy", "gross"); got != "¥1,235" {
		t.Errorf("jpy gross %q", got)
	}
	if got := cell(t, doc, "bhd", "gross"); got != "BHD\u00a01.234" && got != "BHD 1.234" {
		t.Errorf("bhd gross %q", got)
	}
	if got := strings.TrimSpace(doc.Find(`[data-testid="period-range"]`).Text()); got != "1 Mar 2025 – 3 Mar 2025 (Asia/Tokyo)" {
		t.Errorf("range %q", got)
	}

	// The chart defaults to the currency with the most volume, one bar a
	// day in Tokyo's days.
	if got := doc.Find(`[data-testid="chart-currency"]`).Text(); got != "USD" {
		t.Errorf("chart currency %q", got)
	}
	var bars []string
	doc.Find(`[data-testid="chart-bar"]`).Each(func(_ int, s *goquery.Selection) {
		bars = append(bars, s.AttrOr("data-day", "")+"="+s.AttrOr("data-amount", ""))
	})
	if want := []string{"2025-03-01=10.00", "2025-03-02=30000000.00", "2025-03-03=2.50"}; !slices.Equal(bars, want) {
		t.Errorf("bars %v, want %v", bars, want)
	}
	// Another currency chosen in the URL; a currency without volume
	// charts as zeros.
	doc = overviewPage(t, e, store.RoleViewer, "/?period=custom&from=2025-03-01&to=2025-03-03&currency=jpy", http.StatusOK)
	bars = bars[:0]
	doc.Find(`[data-testid="chart-bar"]`).Each(func(_ int, s *goquery.Selection) { bars = append(bars, s.AttrOr("data-amount", "")) })
	if want := []string{"0", "1235", "0"}; !slices.Equal(bars, want) {
		t.Errorf("jpy bars %v, want %v", bars, want)
	}
	if href := doc.Find(`[data-testid="chart-currencies"] a[aria-current="true"]`).AttrOr("href", ""); href != "/?currency=jpy&from=2025-03-01&period=custom&to=2025-03-03" {
		t.Errorf("current currency link %q", href)
	}
	doc = overviewPage(t, e, store.RoleViewer, "/?period=custom&from=2025-03-01&to=2025-03-03&currency=eur", http.StatusOK)
	if n := doc.Find(`[data-testid="chart-bar"][data-amount="0.00"]`).Length(); n != 3 {
		t.Errorf("eur chart: %d zero bars, want 3", n)
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestOverviewPeriods(t *testing.T) {
	e, tokyo := overviewEnv(t)
	now := time.Now().In(tokyo)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, tokyo)
	seedCharges(t, e.st,
		store.Charge{ID: "ch_today", Amount: 700, Currency: "usd", Status: "succeeded", Created: now.Add(-time.Second)},
		store.Charge{ID: "ch_29", Amount: 100, Currency: "usd", Status: "succeeded", Created: today.AddDate(0, 0, -29)},
		store.Charge{ID: "ch_30", Amount: 10000, Currency: "usd", Status: "succeeded", Created: today.AddDate(0, 0, -30)},
	)
	for _, tc := range []struct {
		query string
		bars  int
		gross string
	}{
		{"/", 30, "$8.00"},
		{"/?period=30d", 30, "$8.00"},
		{"/?period=7d", 7, "$7.00"},
		{"/?period=90d", 90, "$108.00"},
		{"/?period=12m", int(today.Sub(today.AddDate(-1, 0, 0)).Hours()/24 + 0.5), "$108.00"},
	} {
		doc := overviewPage(t, e, store.RoleViewer, tc.query, http.StatusOK)
		if n := doc.Find(`[data-testid="chart-bar"]`).Length(); n != tc.bars {
			t.Errorf("%s: %d bars, want %d", tc.query, n, tc.bars)
		}
		if got := cell(t, doc, "usd", "gross"); got != tc.gross {
			t.Errorf("%s: gross %q, want %q", tc.query, got, tc.gross)
		}
		last := doc.Find(`[data-testid="chart-bar"]`).Last().AttrOr("data-day", "")
		if last != today.Format("2006-01-02") {
			t.Errorf("%s: last bar %s, want today %s", tc.query, last, today.Format("2006-01-02"))
		}
	}
	// The form shows the period chosen.
	doc := overviewPage(t, e, store.RoleViewer, "/?period=90d", http.StatusOK)
	if v := doc.Find(`select[name="period"] option[selected]`).AttrOr("value", ""); v != "90d" {
		t.Errorf("selected period %q", v)
	}
}

func TestOverviewBadParameters(t *testing.T) {
	e, _ := overviewEnv(t)
	for query, param := range map[string]string{
		"/?period=week":                                 "period",
		"/?period=custom&from=2025-03-01":               "to",
		"/?period=custom&to=2025-03-01":                 "from",
		"/?period=custom&from=2025-13-01&to=2025-03-01": "from",
		"/?period=custom&from=2025-03-02&to=2025-03-01": "to",
		"/?period=custom&from=2020-01-01&to=2025-03-01": "to",
		"/?period=30d&to=yesterday":                     "to",
		"/?currency=US%24":                              "currency",
		"/?currency=%3Cscript%3E":                       "currency",
		"/?from=2025-03-01":                             "to",
		"/?period=custom&from=0099-01-01&to=2025-03-01": "from",
	} {
		doc := overviewPage(t, e, store.RoleViewer, query, http.StatusBadRequest)
		msg := doc.Find("main").Text()
		if !strings.Contains(msg, "“"+param+"”") {
			t.Errorf("%s: the 400 page does not name %q: %q", query, param, strings.Join(strings.Fields(msg), " "))
		}
	}
}

func TestOverviewActivityAndRoles(t *testing.T) {
	e, _ := overviewEnv(t)
	base := time.Now().Add(-time.Hour)
	var rows []store.Charge
	for i := range 20 {
		rows = append(rows, store.Charge{ID: fmt.Sprintf("ch_%02d", i), Amount: 100, Currency: "usd", Status: "succeeded",
			BillingName: ptrTo("<script>alert(1)</script>"), Created: base.Add(time.Duration(i) * time.Minute)})
	}
	seedCharges(t, e.st, rows...)
	data, _ := json.Marshal(map[string]any{"object": "refund"})
	if _, err := e.st.UpsertRefunds(context.Background(), []store.Refund{
		{ID: "re_new", Charge: ptrTo("ch_19"), Amount: 50, Currency: "usd", Status: ptrTo("succeeded"), Created: base.Add(30 * time.Minute), Data: data, Version: 1},
	}); err != nil {
		t.Fatal(err)
	}
	doc := overviewPage(t, e, store.RoleViewer, "/", http.StatusOK)
	acts := doc.Find(`[data-testid="activity-row"]`)
	if acts.Length() != 15 {
		t.Fatalf("%d activity rows, want 15", acts.Length())
	}
	var links []string
	acts.Slice(0, 3).Each(func(_ int, s *goquery.Selection) { links = append(links, s.Find("a").AttrOr("href", "")) })
	if want := []string{"/refunds/re_new", "/charges/ch_19", "/charges/ch_18"}; !slices.Equal(links, want) {
		t.Errorf("activity links %v, want %v", links, want)
	}
	if doc.Find("main script").Length() != 0 || !strings.Contains(acts.Eq(1).Text(), "<script>alert(1)</script>") {
		t.Error("a billing name was not rendered as text")
	}
	if n := doc.Find(`[data-testid="event-queue"]`).Length(); n != 0 {
		t.Error("the event queue is shown to a viewer")
	}
	for _, role := range []store.Role{store.RoleSupport, store.RoleBilling} {
		if n := overviewPage(t, e, role, "/", http.StatusOK).Find(`[data-testid="event-queue"]`).Length(); n != 0 {
			t.Errorf("the event queue is shown to %s", role)
		}
	}
	if _, err := e.st.DB().ExecContext(context.Background(), `INSERT INTO events (id, type, api_version, created, livemode, data, source, status)
		VALUES ('evt_1', 'charge.updated', '2020-08-27', 1, false, '{}', 'webhook', 'failed')`); err != nil {
		t.Fatal(err)
	}
	admin := overviewPage(t, e, store.RoleAdmin, "/", http.StatusOK)
	for id, want := range map[string]string{"count-failed-events": "1", "count-queued-events": "0", "count-other-api-version-events": "1"} {
		if got := strings.TrimSpace(admin.Find(`[data-testid="` + id + `"]`).Text()); got != want {
			t.Errorf("admin %s = %q, want %q", id, got, want)
		}
	}
}

func TestOverviewLivePanelFragment(t *testing.T) {
	e, _ := overviewEnv(t)
	req := httptest.NewRequest(http.MethodGet, "/?period=7d", nil)
	req.Header.Set("HX-Request", "true")
	req.AddCookie(e.mustLogin(store.RoleViewer))
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("htmx GET: %d", rec.Code)
	}
	doc, _ := goquery.NewDocumentFromReader(rec.Body)
	if doc.Find("header.site-header").Length() != 0 {
		t.Error("an htmx request got the whole layout")
	}
	panel := doc.Find("#overview-live")
	if panel.Length() != 1 || panel.AttrOr("hx-get", "") != "/?period=7d" || panel.AttrOr("hx-select", "") != "#overview-live" ||
		!strings.Contains(panel.AttrOr("hx-trigger", ""), "sse:change-charges throttle:2s") {
		t.Errorf("live panel: %d, hx-get %q", panel.Length(), panel.AttrOr("hx-get", ""))
	}
}
