package views

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

func homeData() HomeData {
	return HomeData{
		Period:     PeriodForm{Period: "custom", From: "2025-03-01", To: "2025-03-03", Currency: "jpy"},
		RangeLabel: "1 Mar 2025 – 3 Mar 2025 (Asia/Tokyo)",
		SelfURL:    "/?period=custom&from=2025-03-01&to=2025-03-03&currency=jpy",
		Currencies: []CurrencyFigures{{Currency: "jpy", Code: "JPY", Gross: "¥1,235", Refunds: "¥0", Net: "¥1,235",
			Payments: "1", FailedPayments: "2", OpenInvoices: "¥10", PastDue: "¥0", OpenInvoiceCount: "1", PastDueCount: "0"}},
		Chart: Chart{Currency: "jpy", Days: []ChartDay{
			{Date: "2025-03-01", Label: "Sat 1 Mar 2025", Short: "1 Mar", Month: "Mar 2025", First: true, Amount: 1235},
			{Date: "2025-03-02", Label: "Sun 2 Mar 2025", Short: "2 Mar", Amount: 0},
			{Date: "2025-03-03", Label: "Mon 3 Mar 2025", Short: "3 Mar", Amount: 400},
		}, Choices: []ChartChoice{{Code: "JPY", Href: "/?currency=jpy", Current: true}, {Code: "USD", Href: "/?currency=usd"}}},
		Activity: []ActivityRow{{Kind: "charge", ID: "ch_1", Href: "/charges/ch_1", When: "3 Mar 2025 09:00",
			Amount: "¥1,235", Status: "succeeded", Label: hostileText}},
		ShowEvents: true, QueuedEvents: 12, FailedEvents: 3, OtherAPIVersionEvents: 7,
	}
}

const hostileText = "<b>x</b><script>alert(1)</script><img src=x onerror=alert(1)> \u202Eevil 👩‍💻"

func TestHomePage(t *testing.T) {
	doc, _ := render(t, HomePage(signedIn(), homeData()))
	if got := text(one(t, doc, "h1")); got != "Overview" {
		t.Errorf("h1 %q", got)
	}
	form := one(t, doc, `form[data-testid="period-form"]`)
	attr(t, form, "method", "get")
	attr(t, form, "hx-push-url", "true")
	attr(t, one(t, form, `option[value="custom"]`), "selected", "")
	attr(t, one(t, form, `input[name="from"]`), "value", "2025-03-01")
	attr(t, one(t, form, `input[name="currency"]`), "value", "jpy")

	panel := one(t, doc, `#overview-live`)
	attr(t, panel, "hx-get", "/?period=custom&from=2025-03-01&to=2025-03-03&currency=jpy")
	attr(t, panel, "hx-select", "#overview-live")
	attr(t, panel, "hx-swap", "outerHTML")
	attr(t, panel, "hx-trigger", "sse:change-charges throttle:2s, sse:change-refunds throttle:2s, sse:change-invoices throttle:2s")

	row := one(t, panel, `[data-testid="summary-jpy"]`)
	for id, want := range map[string]string{"gross": "¥1,235", "refunds": "¥0", "net": "¥1,235", "payments": "1",
		"failed": "2", "open": "¥10 1 open", "past-due": "¥0 0 past due"} {
		if got := text(one(t, row, `[data-testid="`+id+`"]`)); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}

	// The chart: one bar per day, heights proportional, zero days drawn
	// as zero, amounts in major units.
	svg := one(t, panel, `svg[data-testid="chart"]`)
	attr(t, svg, "role", "img")
	if got := text(one(t, svg, "title#chart-title")); !strings.Contains(got, "JPY") || !strings.Contains(got, "1 Mar 2025") {
		t.Errorf("chart title %q", got)
	}
	one(t, svg, "desc")
	bars := svg.Find(`[data-testid="chart-bar"]`)
	if bars.Length() != 3 {
		t.Fatalf("%d bars, want 3", bars.Length())
	}
	var heights []float64
	bars.Each(func(i int, b *goquery.Selection) {
		h, err := strconv.ParseFloat(b.AttrOr("height", ""), 64)
		if err != nil {
			t.Fatalf("bar %d height: %v", i, err)
		}
		heights = append(heights, h)
	})
	attr(t, bars.Eq(0), "data-amount", "1235")
	attr(t, bars.Eq(2), "data-day", "2025-03-03")
	// ¥1,235 and ¥400 on an axis up to ¥2,000.
	if heights[1] != 0 || math.Abs(heights[0]/heights[2]-1235.0/400) > 0.01 || heights[0] >= 212 || heights[0] < 212*0.6 {
		t.Errorf("bar heights %v", heights)
	}
	if got := text(bars.Eq(0).Find("title")); got != "Sat 1 Mar 2025: ¥1,235" {
		t.Errorf("bar title %q", got)
	}
	var yLabels []string
	svg.Find(`[data-testid="chart-y-label"]`).Each(func(_ int, s *goquery.Selection) { yLabels = append(yLabels, text(s)) })
	if strings.Join(yLabels, "|") != "¥0|¥500|¥1,000|¥1,500|¥2,000" {
		t.Errorf("amount axis %v", yLabels)
	}
	if n := svg.Find(`[data-testid="chart-x-label"]`).Length(); n != 3 {
		t.Errorf("%d date labels, want 3", n)
	}
	rows := one(t, panel, `[data-testid="chart-data"]`).Find(`[data-testid="chart-data-row"]`)
	if rows.Length() != 3 || text(rows.Eq(1).Find("td")) != "¥0" {
		t.Errorf("chart data rows %d, second %q", rows.Length(), text(rows.Eq(1)))
	}
	attr(t, one(t, panel, `[data-testid="chart-currencies"] a[aria-current="true"]`), "href", "/?currency=jpy")

	act := one(t, panel, `[data-testid="activity-row"]`)
	attr(t, one(t, act, "a"), "href", "/charges/ch_1")
	checkNoInjected(t, doc.Find("#main *"))
	if !strings.Contains(text(act), "<script>alert(1)</script>") {
		t.Errorf("hostile label not shown as text: %q", text(act))
	}

	for id, want := range map[string]string{"count-queued-events": "12", "count-failed-events": "3", "count-other-api-version-events": "7"} {
		if got := text(one(t, doc, `[data-testid="`+id+`"]`)); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	note := text(one(t, doc, `[data-testid="api-version-note"]`))
	if !strings.Contains(note, "2023-10-16") || !strings.Contains(note, "re-fetches") {
		t.Errorf("API version note %q", note)
	}
}

func TestHomePageHidesEventsFromNonAdmins(t *testing.T) {
	d := homeData()
	d.ShowEvents = false
	doc, _ := render(t, HomePage(signedIn(), d))
	if n := doc.Find(`[data-testid="event-queue"], [data-testid="count-queued-events"]`).Length(); n != 0 {
		t.Errorf("event queue shown without ShowEvents")
	}
	one(t, doc, `[data-testid="summary"]`)
}

func TestHomePageEmpty(t *testing.T) {
	doc, _ := render(t, HomePage(signedIn(), HomeData{Period: PeriodForm{Period: "30d"}}))
	one(t, doc, `[data-testid="summary-empty"]`)
	one(t, doc, `[data-testid="activity-empty"]`)
	if n := doc.Find("svg").Length(); n != 0 {
		t.Errorf("%d charts without a currency", n)
	}
}

func TestChartAxisAndLongPeriods(t *testing.T) {
	for peak, want := range map[int64]int64{0: 1, 1: 1, 4: 1, 5: 2, 1235: 500, 100000: 50000, 1 << 40: 500000000000} {
		if got := niceStep(peak, 4); got != want {
			t.Errorf("niceStep(%d) = %d, want %d", peak, got, want)
		}
	}
	// A long period labels the first of each month, not every day.
	c := Chart{Currency: "usd"}
	for i := range 90 {
		c.Days = append(c.Days, ChartDay{First: i == 10 || i == 40 || i == 71, Month: "m", Amount: int64(i)})
	}
	l := c.layout()
	if len(l.Bars) != 90 || len(l.XTicks) != 3 {
		t.Errorf("%d bars, %d date labels; want 90, 3", len(l.Bars), len(l.XTicks))
	}
}

func TestFormatCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234: "-1,234", 9223372036854775807: "9,223,372,036,854,775,807"} {
		if got := FormatCount(n); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", n, got, want)
		}
	}
}
