package handlers

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"paydesk/store"
	"paydesk/store/money"
	"paydesk/views"
)

// listReader is what the list pages and their CSV exports read.
type listReader interface {
	CustomerList(ctx context.Context, f store.ListFilter) (store.ListPage[store.Customer], error)
	CustomerTotals(ctx context.Context, f store.ListFilter) ([]store.CurrencyTotal, error)
	EachCustomer(ctx context.Context, f store.ListFilter, fn func(*store.Customer) error) error
	CustomerListRow(ctx context.Context, id string) (store.Customer, error)

	InvoiceList(ctx context.Context, f store.ListFilter) (store.ListPage[store.Invoice], error)
	InvoiceTotals(ctx context.Context, f store.ListFilter) ([]store.CurrencyTotal, error)
	EachInvoice(ctx context.Context, f store.ListFilter, fn func(*store.Invoice) error) error
	InvoiceListRow(ctx context.Context, id string) (store.Invoice, error)

	ChargeList(ctx context.Context, f store.ListFilter) (store.ListPage[store.Charge], error)
	ChargeTotals(ctx context.Context, f store.ListFilter) ([]store.CurrencyTotal, error)
	EachCharge(ctx context.Context, f store.ListFilter, fn func(*store.Charge) error) error
	ChargeListRow(ctx context.Context, id string) (store.Charge, error)

	RefundList(ctx context.Context, f store.ListFilter) (store.ListPage[store.Refund], error)
	RefundTotals(ctx context.Context, f store.ListFilter) ([]store.CurrencyTotal, error)
	EachRefund(ctx context.Context, f store.ListFilter, fn func(*store.Refund) error) error
	RefundListRow(ctx context.Context, id string) (store.Refund, error)
}

// listDef describes one list to the shared parsing and paging code.
type listDef struct {
	name, title  string // "charges", "Charges"
	noun, nouns  string // "charge", "charges": the totals' counts
	path         string // "/charges"
	defaultLabel string // the tab for status "" ("All")
	statuses     []string
	sorts        []string
	hasAmount    bool
	hasDue       bool
	hasCustomer  bool
}

var (
	customersList = &listDef{name: "customers", title: "Customers", noun: "customer", nouns: "customers", path: "/customers",
		defaultLabel: "Active", statuses: store.CustomerStatuses, sorts: store.CustomerSorts}
	invoicesList = &listDef{name: "invoices", title: "Invoices", noun: "invoice", nouns: "invoices", path: "/invoices",
		defaultLabel: "All", statuses: store.InvoiceStatuses, sorts: store.InvoiceSorts, hasAmount: true, hasDue: true, hasCustomer: true}
	chargesList = &listDef{name: "charges", title: "Charges", noun: "charge", nouns: "charges", path: "/charges",
		defaultLabel: "All", statuses: store.ChargeStatuses, sorts: store.ChargeSorts, hasAmount: true, hasCustomer: true}
	refundsList = &listDef{name: "refunds", title: "Refunds", noun: "refund", nouns: "refunds", path: "/refunds",
		defaultLabel: "All", statuses: store.RefundStatuses, sorts: store.RefundSorts, hasAmount: true, hasCustomer: true}
)

// statusLabel is how a status tab or badge reads.
func statusLabel(status string) string {
	switch status {
	case "all":
		return "All, with deleted"
	case "deleted":
		return "Deleted"
	}
	return strings.ReplaceAll(status, "_", " ")
}

// listParams are the query parameters a list understands, in the order a
// URL built here carries them.
var listParams = []string{"q", "status", "created_from", "created_to", "due_from", "due_to", "currency",
	"amount_min", "amount_max", "customer", "sort", "dir", "limit", "after", "before"}

// paramError is a query parameter a list cannot use.
type paramError struct {
	param, msg string
}

func (e *paramError) Error() string { return e.param + ": " + e.msg }

// message is what the 400 page says.
func (e *paramError) message() string {
	return fmt.Sprintf("Check the filter: the “%s” parameter %s.", e.param, e.msg)
}

// parseList reads a list's filter from the query string q. Empty
// parameters are unset; anything else that does not parse, or that the
// list does not have, is a paramError naming the parameter.
func (s *Server) parseList(def *listDef, q url.Values) (store.ListFilter, views.ListFilterForm, error) {
	form := views.ListFilterForm{
		Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"),
		CreatedFrom: strings.TrimSpace(q.Get("created_from")), CreatedTo: strings.TrimSpace(q.Get("created_to")),
		DueFrom: strings.TrimSpace(q.Get("due_from")), DueTo: strings.TrimSpace(q.Get("due_to")),
		Currency: strings.TrimSpace(q.Get("currency")), AmountMin: strings.TrimSpace(q.Get("amount_min")),
		AmountMax: strings.TrimSpace(q.Get("amount_max")), Customer: strings.TrimSpace(q.Get("customer")),
		Sort: q.Get("sort"), Dir: q.Get("dir"), Limit: strings.TrimSpace(q.Get("limit")),
	}
	f := store.ListFilter{Query: form.Q, Status: form.Status, Customer: form.Customer, Sort: form.Sort}
	if len(form.Q) > 200 {
		return f, form, &paramError{"q", "is too long (at most 200 characters)"}
	}
	if form.Status != "" && !slices.Contains(def.statuses, form.Status) {
		return f, form, &paramError{"status", fmt.Sprintf("must be one of %s, not %q", strings.Join(def.statuses, ", "), form.Status)}
	}
	if form.Sort != "" && !slices.Contains(def.sorts, form.Sort) {
		return f, form, &paramError{"sort", fmt.Sprintf("must be one of %s, not %q", strings.Join(def.sorts, ", "), form.Sort)}
	}
	switch form.Dir {
	case "", "desc":
	case "asc":
		f.Asc = true
	default:
		return f, form, &paramError{"dir", fmt.Sprintf("must be asc or desc, not %q", form.Dir)}
	}
	var err error
	if f.CreatedFrom, f.CreatedTo, err = s.dayRange("created_from", form.CreatedFrom, "created_to", form.CreatedTo); err != nil {
		return f, form, err
	}
	if form.DueFrom != "" || form.DueTo != "" {
		if !def.hasDue {
			return f, form, &paramError{dueParam(form), "does not apply to " + def.name}
		}
		if f.DueFrom, f.DueTo, err = s.dayRange("due_from", form.DueFrom, "due_to", form.DueTo); err != nil {
			return f, form, err
		}
	}
	if form.Currency != "" {
		if len(form.Currency) != 3 || strings.Trim(strings.ToLower(form.Currency), "abcdefghijklmnopqrstuvwxyz") != "" {
			return f, form, &paramError{"currency", fmt.Sprintf("must be a three-letter currency code like USD, not %q", form.Currency)}
		}
		f.Currency = strings.ToLower(form.Currency)
	}
	for _, a := range []struct {
		param, value string
		dest         **int64
	}{{"amount_min", form.AmountMin, &f.AmountMin}, {"amount_max", form.AmountMax, &f.AmountMax}} {
		if a.value == "" {
			continue
		}
		switch {
		case !def.hasAmount:
			return f, form, &paramError{a.param, "does not apply to " + def.name}
		case f.Currency == "":
			return f, form, &paramError{a.param, "needs a currency: amounts are in the currency's major units"}
		}
		n, err := money.Parse(a.value, f.Currency)
		if err != nil {
			return f, form, &paramError{a.param, fmt.Sprintf("%q is not an amount in %s: %v", a.value, money.Code(f.Currency), err)}
		}
		*a.dest = &n
	}
	if f.AmountMin != nil && f.AmountMax != nil && *f.AmountMin > *f.AmountMax {
		return f, form, &paramError{"amount_max", "is below amount_min"}
	}
	if form.Customer != "" && !def.hasCustomer {
		return f, form, &paramError{"customer", "does not apply to " + def.name}
	}
	if form.Limit != "" {
		n, err := strconv.Atoi(form.Limit)
		if err != nil || n < 1 || n > store.MaxListLimit {
			return f, form, &paramError{"limit", fmt.Sprintf("must be a whole number from 1 to %d", store.MaxListLimit)}
		}
		f.Limit = n
	}
	after, before := q.Get("after"), q.Get("before")
	if after != "" && before != "" {
		return f, form, &paramError{"before", "cannot be used together with after"}
	}
	for _, c := range []struct {
		param, token string
		dest         **store.Cursor
	}{{"after", after, &f.After}, {"before", before, &f.Before}} {
		if c.token == "" {
			continue
		}
		cur, err := store.DecodeCursor(c.token)
		if err != nil {
			return f, form, &paramError{c.param, "is not a page link paydesk made; start from the first page"}
		}
		*c.dest = &cur
	}
	return f, form, nil
}

func dueParam(form views.ListFilterForm) string {
	if form.DueFrom != "" {
		return "due_from"
	}
	return "due_to"
}

// dayRange reads an inclusive range of days (YYYY-MM-DD, in the display
// time zone) as the instants [from, to) it covers.
func (s *Server) dayRange(fromParam, fromText, toParam, toText string) (time.Time, time.Time, error) {
	var from, to time.Time
	if fromText != "" {
		day, err := time.ParseInLocation(time.DateOnly, fromText, s.loc)
		if err != nil {
			return from, to, &paramError{fromParam, fmt.Sprintf("must be a date like 2026-01-31, not %q", fromText)}
		}
		from = day
	}
	if toText != "" {
		day, err := time.ParseInLocation(time.DateOnly, toText, s.loc)
		if err != nil {
			return from, to, &paramError{toParam, fmt.Sprintf("must be a date like 2026-01-31, not %q", toText)}
		}
		to = day.AddDate(0, 0, 1)
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return from, to, &paramError{toParam, "is before " + fromParam}
	}
	return from, to, nil
}

// listURL is the list at path with the state values, in a stable order,
// leaving out empty values.
func listURL(path string, values url.Values) string {
	var b strings.Builder
	for _, k := range listParams {
		if v := values.Get(k); v != "" {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v))
		}
	}
	if b.Len() == 0 {
		return path
	}
	return path + "?" + b.String()
}

// stateValues are the form's filter and sort as query values, without
// paging.
func stateValues(form views.ListFilterForm) url.Values {
	return url.Values{
		"q": {form.Q}, "status": {form.Status}, "created_from": {form.CreatedFrom}, "created_to": {form.CreatedTo},
		"due_from": {form.DueFrom}, "due_to": {form.DueTo}, "currency": {form.Currency},
		"amount_min": {form.AmountMin}, "amount_max": {form.AmountMax}, "customer": {form.Customer},
		"sort": {form.Sort}, "dir": {form.Dir}, "limit": {form.Limit},
	}
}

// chrome builds everything around a list's table.
func (s *Server) chrome(def *listDef, form views.ListFilterForm, page *store.ListPage[struct{}], totals []store.CurrencyTotal) views.ListChrome {
	c := views.ListChrome{Path: def.path, Name: def.name, Filter: form, HasAmount: def.hasAmount, HasDue: def.hasDue,
		HasCustomer: def.hasCustomer, Sorts: map[string]views.SortHeader{}}
	state := stateValues(form)
	with := func(k, v string) url.Values {
		out := url.Values{}
		for key, vals := range state {
			out[key] = vals
		}
		out.Set(k, v)
		return out
	}
	for _, st := range append([]string{""}, def.statuses...) {
		label := def.defaultLabel
		if st != "" {
			label = statusLabel(st)
		}
		c.Tabs = append(c.Tabs, views.ListTab{Label: label, URL: listURL(def.path, with("status", st)), Current: st == form.Status})
	}
	sortKey := cmpOr(form.Sort, "created")
	for _, key := range def.sorts {
		h := views.SortHeader{}
		dir := "desc"
		if key == sortKey {
			h.Dir = cmpOr(form.Dir, "desc")
			if h.Dir == "desc" {
				dir = "asc"
			}
		}
		v := with("sort", key)
		v.Set("dir", dir)
		if key == "created" {
			v.Del("sort")
		}
		if dir == "desc" {
			v.Del("dir")
		}
		h.URL = listURL(def.path, v)
		c.Sorts[key] = h
	}
	csv := url.Values{}
	for k, v := range state {
		if k != "limit" {
			csv[k] = v
		}
	}
	c.CSVURL = listURL(def.path+".csv", csv)
	if page != nil {
		if page.Next != nil {
			c.NextURL = listURL(def.path, with("after", page.Next.Encode()))
		}
		if page.Prev != nil {
			c.PrevURL = listURL(def.path, with("before", page.Prev.Encode()))
		}
	}
	for _, t := range totals {
		code, noun := money.Code(t.Currency), def.nouns
		if t.Currency == "" {
			code = "—"
		}
		if t.Count == 1 {
			noun = def.noun
		}
		amount := "—"
		if t.Currency != "" {
			amount = money.Format(t.Amount, t.Currency)
		}
		c.Totals = append(c.Totals, views.ListTotal{Currency: code, Count: views.FormatCount(t.Count) + " " + noun, Amount: amount})
	}
	return c
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// showList serves a list page: it parses the filter, reads the page and the
// totals at the same time, and renders. A bad parameter answers 400 with
// the form and a message naming it.
func showList[T any](s *Server, w http.ResponseWriter, r *http.Request, def *listDef,
	list func(context.Context, store.ListFilter) (store.ListPage[T], error),
	totals func(context.Context, store.ListFilter) ([]store.CurrencyTotal, error),
	render func(views.Page, views.ListChrome, []T) templ.Component,
) {
	f, form, err := s.parseList(def, r.URL.Query())
	page := s.page(r, def.title, def.path)
	if err != nil {
		listError(s, w, r, def, form, err, page, render)
		return
	}
	type totalsResult struct {
		totals []store.CurrencyTotal
		err    error
	}
	// The totals aggregate every matching row; they run beside the page's
	// query on their own connection, so the page costs the slower of the
	// two, not their sum.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	totalsDone := make(chan totalsResult, 1)
	go func() {
		t, err := totals(ctx, f)
		totalsDone <- totalsResult{t, err}
	}()
	rows, err := list(ctx, f)
	if err != nil {
		cancel()
		<-totalsDone
		listError(s, w, r, def, form, err, page, render)
		return
	}
	tr := <-totalsDone
	withheld := ""
	if errors.Is(tr.err, store.ErrSearchTooBroad) {
		withheld = fmt.Sprintf("More than %s %s match this search, too many to add up here. Narrow the search, "+
			"or use the status, currency and date filters, whose totals have no limit; the CSV export has every row.",
			views.FormatCount(store.SearchTotalsLimit), def.nouns)
		tr.err = nil
	}
	if tr.err != nil {
		listError(s, w, r, def, form, tr.err, page, render)
		return
	}
	c := s.chrome(def, form, &store.ListPage[struct{}]{Next: rows.Next, Prev: rows.Prev}, tr.totals)
	c.TotalsWithheld = withheld
	if f.After != nil || f.Before != nil {
		c.FirstURL = listURL(def.path, stateValues(form))
	}
	s.render(w, r, http.StatusOK, render(page, c, rows.Rows))
}

// listError answers a filter problem with 400 and the list's form, naming
// the parameter, and anything else with 500.
func listError[T any](s *Server, w http.ResponseWriter, r *http.Request, def *listDef, form views.ListFilterForm, err error,
	page views.Page, render func(views.Page, views.ListChrome, []T) templ.Component) {
	var pe *paramError
	var fe *store.FilterError
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &fe):
		pe = &paramError{fe.Param, fe.Msg}
	default:
		s.serverError(w, r, "cannot read the "+def.name+" list", err)
		return
	}
	c := s.chrome(def, form, nil, nil)
	c.Error = pe.message()
	w.Header()["Cache-Control"] = noStoreCache
	s.render(w, r, http.StatusBadRequest, render(page, c, nil))
}

// showRow answers one row of a list alone, for live updates: 404 when the
// object is unknown.
func showRow[T any](s *Server, w http.ResponseWriter, r *http.Request, what string,
	read func(context.Context, string) (T, error), render func(T) templ.Component) {
	row, err := read(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.renderError(w, r, http.StatusNotFound, "No such "+what+" in the mirror.")
		return
	}
	if err != nil {
		s.serverError(w, r, "cannot read a "+what+" row", err)
		return
	}
	s.render(w, r, http.StatusOK, render(row))
}

func (s *Server) customersPage(w http.ResponseWriter, r *http.Request) {
	showList(s, w, r, customersList, s.mirror.CustomerList, s.mirror.CustomerTotals, s.customersView)
}

func (s *Server) invoicesPage(w http.ResponseWriter, r *http.Request) {
	showList(s, w, r, invoicesList, s.mirror.InvoiceList, s.mirror.InvoiceTotals, s.invoicesView)
}

func (s *Server) chargesPage(w http.ResponseWriter, r *http.Request) {
	showList(s, w, r, chargesList, s.mirror.ChargeList, s.mirror.ChargeTotals, s.chargesView)
}

func (s *Server) refundsPage(w http.ResponseWriter, r *http.Request) {
	showList(s, w, r, refundsList, s.mirror.RefundList, s.mirror.RefundTotals, s.refundsView)
}

func (s *Server) customerRow(w http.ResponseWriter, r *http.Request) {
	showRow(s, w, r, "customer", s.mirror.CustomerListRow, func(c store.Customer) templ.Component {
		return views.CustomerTableRow(s.customerRowView(c))
	})
}

func (s *Server) invoiceRow(w http.ResponseWriter, r *http.Request) {
	showRow(s, w, r, "invoice", s.mirror.InvoiceListRow, func(i store.Invoice) templ.Component {
		return views.InvoiceTableRow(s.invoiceRowView(i, time.Now()))
	})
}

func (s *Server) chargeRow(w http.ResponseWriter, r *http.Request) {
	showRow(s, w, r, "charge", s.mirror.ChargeListRow, func(c store.Charge) templ.Component {
		return views.ChargeTableRow(s.chargeRowView(c))
	})
}

func (s *Server) refundRow(w http.ResponseWriter, r *http.Request) {
	showRow(s, w, r, "refund", s.mirror.RefundListRow, func(rf store.Refund) templ.Component {
		return views.RefundTableRow(s.refundRowView(rf))
	})
}

func (s *Server) customersView(p views.Page, c views.ListChrome, rows []store.Customer) templ.Component {
	d := views.CustomersData{ListChrome: c}
	for _, row := range rows {
		d.Rows = append(d.Rows, s.customerRowView(row))
	}
	return views.CustomersPage(p, d)
}

func (s *Server) invoicesView(p views.Page, c views.ListChrome, rows []store.Invoice) templ.Component {
	d := views.InvoicesData{ListChrome: c}
	now := time.Now()
	for _, row := range rows {
		d.Rows = append(d.Rows, s.invoiceRowView(row, now))
	}
	return views.InvoicesPage(p, d)
}

func (s *Server) chargesView(p views.Page, c views.ListChrome, rows []store.Charge) templ.Component {
	d := views.ChargesData{ListChrome: c}
	for _, row := range rows {
		d.Rows = append(d.Rows, s.chargeRowView(row))
	}
	return views.ChargesPage(p, d)
}

func (s *Server) refundsView(p views.Page, c views.ListChrome, rows []store.Refund) templ.Component {
	d := views.RefundsData{ListChrome: c}
	for _, row := range rows {
		d.Rows = append(d.Rows, s.refundRowView(row))
	}
	return views.RefundsPage(p, d)
}

// listDay shows t's day in the display time zone.
func (s *Server) listDay(t time.Time) string { return t.In(s.loc).Format(time.DateOnly) }

func (s *Server) customerRowView(c store.Customer) views.CustomerRow {
	row := views.CustomerRow{ID: c.ID, URL: objectURL("customers", c.ID), RowURL: objectURL("customers", c.ID) + "/row",
		Name: deref(c.Name), Email: deref(c.Email), Created: s.formatTime(c.Created), Deleted: c.Deleted}
	if c.Currency != nil && *c.Currency != "" {
		row.Currency = money.Code(*c.Currency)
		row.Balance = money.Format(c.Balance, *c.Currency)
	} else if c.Balance != 0 {
		row.Balance = strconv.FormatInt(c.Balance, 10)
	}
	return row
}

func (s *Server) invoiceRowView(i store.Invoice, now time.Time) views.InvoiceRow {
	status := deref(i.Status)
	row := views.InvoiceRow{ID: i.ID, URL: objectURL("invoices", i.ID), RowURL: objectURL("invoices", i.ID) + "/row",
		Number: deref(i.Number), CustomerName: deref(i.CustomerName), CustomerEmail: deref(i.CustomerEmail),
		Status: status, StatusClass: "badge-" + status, Total: money.Format(i.Total, i.Currency),
		AmountDue: money.Format(i.AmountDue, i.Currency), Created: s.formatTime(i.Created)}
	if i.DueDate != nil {
		row.DueDate = s.listDay(*i.DueDate)
		if status == "open" && i.DueDate.Before(now) {
			row.PastDue, row.Status, row.StatusClass = true, "past due", "badge-past-due"
		}
	}
	if i.Deleted {
		row.Status, row.StatusClass = "deleted", "badge-muted"
	}
	return row
}

func (s *Server) chargeRowView(c store.Charge) views.ChargeRow {
	row := views.ChargeRow{ID: c.ID, URL: objectURL("charges", c.ID), RowURL: objectURL("charges", c.ID) + "/row",
		Amount: money.Format(c.Amount, c.Currency), Status: c.Status, StatusClass: "badge-" + c.Status,
		Customer: cmpOr(deref(c.BillingName), deref(c.Customer)), ReceiptEmail: deref(c.ReceiptEmail), Created: s.formatTime(c.Created)}
	switch {
	case c.Refunded:
		row.Flags = append(row.Flags, "refunded")
	case c.AmountRefunded > 0:
		row.Flags = append(row.Flags, "partially refunded")
	}
	if c.Disputed {
		row.Flags = append(row.Flags, "disputed")
	}
	if c.CardLast4 != nil {
		row.Card = strings.TrimSpace(deref(c.CardBrand) + " •••• " + *c.CardLast4)
	}
	return row
}

func (s *Server) refundRowView(r store.Refund) views.RefundRow {
	status := deref(r.Status)
	row := views.RefundRow{ID: r.ID, URL: objectURL("refunds", r.ID), RowURL: objectURL("refunds", r.ID) + "/row",
		Amount: money.Format(r.Amount, r.Currency), Status: status, StatusClass: "badge-" + status,
		Reason: statusLabel(deref(r.Reason)), Charge: deref(r.Charge), Created: s.formatTime(r.Created)}
	if r.Charge != nil {
		row.ChargeURL = objectURL("charges", *r.Charge)
	}
	return row
}

// csvFlushEvery is how many rows an export writes between flushes to the
// client.
const csvFlushEvery = 1000

// csvExport streams every row a list's filter matches as CSV, in the
// list's order, as the rows arrive from the database; nothing is held
// beyond the current row. A bad parameter answers 400 before anything is
// written. A failure once rows have gone out cannot change the status: it
// is logged and the response is aborted, so the client sees a broken
// download rather than a file that merely ends early.
func csvExport[T any](s *Server, w http.ResponseWriter, r *http.Request, def *listDef, header []string,
	each func(context.Context, store.ListFilter, func(*T) error) error, record func(*T, []string) []string,
	render func(views.Page, views.ListChrome, []T) templ.Component) {
	f, form, err := s.parseList(def, r.URL.Query())
	if err != nil {
		listError(s, w, r, def, form, err, s.page(r, def.title, def.path), render)
		return
	}
	// An export of a million rows outlasts the server's WriteTimeout.
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Now().Add(5 * time.Minute)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.logError(r, "cannot extend the write deadline of an export", err)
	}
	cw := csv.NewWriter(w)
	started, rows := false, 0
	start := func() {
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, def.name, time.Now().In(s.loc).Format(time.DateOnly)))
		h["Cache-Control"] = noStoreCache
		w.WriteHeader(http.StatusOK)
		_ = cw.Write(header)
	}
	record0 := make([]string, 0, len(header))
	err = each(r.Context(), f, func(row *T) error {
		if !started {
			start()
		}
		if err := cw.Write(record(row, record0[:0])); err != nil {
			return err
		}
		if rows++; rows%csvFlushEvery == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			_ = rc.Flush()
		}
		return nil
	})
	if err != nil && !started {
		listError(s, w, r, def, form, err, s.page(r, def.title, def.path), render)
		return
	}
	if err != nil {
		s.logError(r, "export of "+def.name+" cut short after "+strconv.Itoa(rows)+" rows", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		start()
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.logError(r, "cannot finish the export of "+def.name, err)
	}
}

// csvText neutralises a text cell a spreadsheet would read as a formula:
// one beginning with = + - @, a tab or a carriage return gets a leading
// single quote. Amounts are written as numbers and never pass through it.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvTime is t in RFC 3339 in the display time zone.
func (s *Server) csvTime(t time.Time) string { return t.In(s.loc).Format(time.RFC3339) }

func (s *Server) csvTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return s.csvTime(*t)
}

func (s *Server) customersCSV(w http.ResponseWriter, r *http.Request) {
	csvExport(s, w, r, customersList,
		[]string{"id", "name", "email", "created", "currency", "balance", "deleted"},
		s.mirror.EachCustomer, func(c *store.Customer, rec []string) []string {
			cur, balance := "", strconv.FormatInt(c.Balance, 10)
			if c.Currency != nil && *c.Currency != "" {
				cur, balance = money.Code(*c.Currency), money.Major(c.Balance, *c.Currency)
			}
			return append(rec, csvText(c.ID), csvText(deref(c.Name)), csvText(deref(c.Email)), s.csvTime(c.Created),
				cur, balance, strconv.FormatBool(c.Deleted))
		}, s.customersView)
}

func (s *Server) invoicesCSV(w http.ResponseWriter, r *http.Request) {
	csvExport(s, w, r, invoicesList,
		[]string{"id", "number", "customer", "customer_email", "customer_name", "status", "currency", "total",
			"amount_due", "amount_paid", "amount_remaining", "due_date", "created"},
		s.mirror.EachInvoice, func(i *store.Invoice, rec []string) []string {
			return append(rec, csvText(i.ID), csvText(deref(i.Number)), csvText(deref(i.Customer)),
				csvText(deref(i.CustomerEmail)), csvText(deref(i.CustomerName)), csvText(deref(i.Status)),
				money.Code(i.Currency), money.Major(i.Total, i.Currency), money.Major(i.AmountDue, i.Currency),
				money.Major(i.AmountPaid, i.Currency), money.Major(i.AmountRemaining, i.Currency),
				s.csvTimePtr(i.DueDate), s.csvTime(i.Created))
		}, s.invoicesView)
}

func (s *Server) chargesCSV(w http.ResponseWriter, r *http.Request) {
	csvExport(s, w, r, chargesList,
		[]string{"id", "created", "amount", "amount_refunded", "currency", "status", "refunded", "disputed",
			"customer", "billing_name", "receipt_email", "card_brand", "card_last4", "receipt_number", "invoice"},
		s.mirror.EachCharge, func(c *store.Charge, rec []string) []string {
			return append(rec, csvText(c.ID), s.csvTime(c.Created), money.Major(c.Amount, c.Currency),
				money.Major(c.AmountRefunded, c.Currency), money.Code(c.Currency), csvText(c.Status),
				strconv.FormatBool(c.Refunded), strconv.FormatBool(c.Disputed), csvText(deref(c.Customer)),
				csvText(deref(c.BillingName)), csvText(deref(c.ReceiptEmail)), csvText(deref(c.CardBrand)),
				csvText(deref(c.CardLast4)), csvText(deref(c.ReceiptNumber)), csvText(deref(c.Invoice)))
		}, s.chargesView)
}

func (s *Server) refundsCSV(w http.ResponseWriter, r *http.Request) {
	csvExport(s, w, r, refundsList,
		[]string{"id", "created", "amount", "currency", "status", "reason", "charge", "receipt_number"},
		s.mirror.EachRefund, func(rf *store.Refund, rec []string) []string {
			return append(rec, csvText(rf.ID), s.csvTime(rf.Created), money.Major(rf.Amount, rf.Currency),
				money.Code(rf.Currency), csvText(deref(rf.Status)), csvText(deref(rf.Reason)),
				csvText(deref(rf.Charge)), csvText(deref(rf.ReceiptNumber)))
		}, s.refundsView)
}
