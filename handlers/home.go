package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"paydesk/store"
	"paydesk/store/money"
	"paydesk/views"
)

// recentActivityLimit is how many recent changes the overview lists.
const recentActivityLimit = 15

// home is the signed-in landing page (GET /): per-currency figures for the
// period in the URL, the daily gross volume chart, recent activity and,
// for admins, the state of the event queue.
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := time.Now()
	p, err := parsePeriod(q, now, s.loc)
	if bad := (*badParam)(nil); errors.As(err, &bad) {
		s.renderError(w, r, http.StatusBadRequest, "Bad parameter “"+bad.name+"”: "+bad.msg+".")
		return
	}
	chartCurrency := q.Get("currency")
	if chartCurrency != "" && !isCurrencyCode(chartCurrency) {
		s.renderError(w, r, http.StatusBadRequest, "Bad parameter “currency”: want a three-letter currency code such as usd.")
		return
	}

	ctx := r.Context()
	sum, err := s.mirror.Summary(ctx, p.Days, now)
	if err != nil {
		s.serverError(w, r, "cannot read the overview", err)
		return
	}
	activity, err := s.mirror.RecentActivity(ctx, recentActivityLimit)
	if err != nil {
		s.serverError(w, r, "cannot read recent activity", err)
		return
	}
	d := views.HomeData{
		Period:     views.PeriodForm{Period: p.Name, From: p.From, To: p.To, Currency: chartCurrency},
		RangeLabel: p.first().Format("2 Jan 2006") + " – " + p.last().Format("2 Jan 2006") + " (" + s.loc.String() + ")",
		SelfURL:    r.URL.RequestURI(),
	}
	for _, c := range sum.Currencies {
		d.Currencies = append(d.Currencies, currencyFigures(c))
	}
	d.Chart = s.chart(q, sum, chartCurrency, p)
	for _, a := range activity {
		d.Activity = append(d.Activity, s.activityRow(a))
	}
	user, _ := currentUser(r)
	if user.Role.AtLeast(store.RoleAdmin) {
		eq, err := s.mirror.EventQueue(ctx)
		if err != nil {
			s.serverError(w, r, "cannot read the event queue", err)
			return
		}
		d.ShowEvents = true
		d.QueuedEvents, d.FailedEvents, d.OtherAPIVersionEvents = eq.Queued, eq.Failed, eq.OtherAPIVersion
	}
	s.render(w, r, http.StatusOK, views.HomePage(s.page(r, "Overview", "/"), d))
}

// isCurrencyCode reports whether s looks like a lower-case ISO currency
// code, as Stripe writes them.
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range []byte(s) {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func currencyFigures(c store.CurrencySummary) views.CurrencyFigures {
	f := func(n int64) string { return money.Format(n, c.Currency) }
	return views.CurrencyFigures{
		Currency: c.Currency, Code: money.Code(c.Currency),
		Gross: f(c.Gross), Refunds: f(c.Refunds), Net: f(c.Net), NetNegative: c.Net < 0,
		Payments: countText(c.Payments), FailedPayments: countText(c.FailedPayments),
		OpenInvoices: f(c.OpenInvoices), PastDue: f(c.PastDue),
		OpenInvoiceCount: countText(c.OpenInvoiceCount), PastDueCount: countText(c.PastDueCount),
		HasPastDue: c.PastDueCount > 0,
	}
}

// chart is the daily gross volume of the currency the URL names, else of
// the one with the most volume (the summary's first).
func (s *Server) chart(q url.Values, sum store.Summary, currency string, p period) views.Chart {
	var c views.Chart
	if currency == "" && len(sum.Currencies) > 0 {
		currency = sum.Currencies[0].Currency
	}
	if currency == "" {
		return c
	}
	c.Currency = currency
	figures, _ := sum.Currency(currency) // a currency without figures charts as zeros
	for i, day := range p.Days[:len(p.Days)-1] {
		var amount int64
		if i < len(figures.Daily) {
			amount = figures.Daily[i]
		}
		c.Days = append(c.Days, views.ChartDay{Date: day.Format(dateLayout), Label: day.Format("Mon 2 Jan 2006"),
			Short: day.Format("2 Jan"), Month: day.Format("Jan 2006"), First: day.Day() == 1, Amount: amount})
	}
	for _, cs := range sum.Currencies {
		c.Choices = append(c.Choices, chartChoice(q, cs.Currency, currency))
	}
	if _, ok := sum.Currency(currency); !ok {
		c.Choices = append(c.Choices, chartChoice(q, currency, currency))
	}
	return c
}

// chartChoice links to this page with the chart in currency, the rest of
// the URL kept.
func chartChoice(q url.Values, currency, current string) views.ChartChoice {
	v := url.Values{}
	for _, k := range []string{"period", "from", "to"} {
		if q.Get(k) != "" {
			v.Set(k, q.Get(k))
		}
	}
	v.Set("currency", currency)
	return views.ChartChoice{Code: money.Code(currency), Href: "/?" + v.Encode(), Current: currency == current}
}

// activityPaths are the detail pages of each kind of object.
var activityPaths = map[string]string{"charge": "/charges/", "refund": "/refunds/", "invoice": "/invoices/"}

func (s *Server) activityRow(a store.Activity) views.ActivityRow {
	return views.ActivityRow{Kind: a.Kind, ID: a.ID, Href: activityPaths[a.Kind] + url.PathEscape(a.ID),
		When: a.Created.In(s.loc).Format("2 Jan 2006 15:04"), Amount: money.Format(a.Amount, a.Currency),
		Status: a.Status, Label: a.Label}
}

// countText writes n with thousands separators.
func countText(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
