package handlers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"paydesk/store"
	"paydesk/store/money"
	"paydesk/views"
)

// detailReader is what the detail pages read.
type detailReader interface {
	CustomerDetail(ctx context.Context, id string) (store.CustomerDetail, error)
	InvoiceDetail(ctx context.Context, id string) (store.InvoiceDetail, error)
	ChargeDetail(ctx context.Context, id string) (store.ChargeDetail, error)
	RefundDetail(ctx context.Context, id string) (store.RefundDetail, error)
}

// customerPage shows a customer: profile, metadata and their latest
// invoices, charges and refunds (GET /customers/{id}).
func (s *Server) customerPage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.detailID(w, r, "customer")
	if !ok {
		return
	}
	d, err := s.mirror.CustomerDetail(r.Context(), id)
	if !s.detailFound(w, r, "customer", id, err) {
		return
	}
	c := d.Customer
	v := views.CustomerView{ID: c.ID, URL: objectURL("customers", c.ID), Name: deref(c.Name), Email: deref(c.Email),
		Phone: deref(c.Phone), Description: deref(c.Description), Delinquent: c.Delinquent, Deleted: c.Deleted,
		Livemode: c.Livemode, Created: s.formatTime(c.Created), Metadata: metadataOf(c.Data),
		MoreInvoices: d.MoreInvoices, MoreCharges: d.MoreCharges, MoreRefunds: d.MoreRefunds,
		InvoicesURL: filteredListURL("invoices", "customer", c.ID), ChargesURL: filteredListURL("charges", "customer", c.ID),
		RefundsURL: filteredListURL("refunds", "customer", c.ID)}
	if user, ok := currentUser(r); ok && user.Role.AtLeast(store.RoleBilling) && s.invoicer != nil && !c.Deleted {
		v.NewInvoiceURL = objectURL("customers", c.ID) + "/invoices/new"
	}
	if c.Currency != nil && *c.Currency != "" {
		v.Currency = money.Code(*c.Currency)
		// Stripe's balance is in the customer's currency; negative is a
		// credit the customer holds.
		v.Balance = money.Format(c.Balance, *c.Currency)
	} else if c.Balance != 0 {
		v.Balance = strconv.FormatInt(c.Balance, 10) + " (minor units, currency unknown)"
	}
	now := time.Now()
	for _, in := range d.Invoices {
		v.Invoices = append(v.Invoices, s.relatedInvoice(in, now))
	}
	for _, ch := range d.Charges {
		v.Charges = append(v.Charges, s.relatedCharge(ch))
	}
	for _, re := range d.Refunds {
		v.Refunds = append(v.Refunds, s.relatedRefund(re))
	}
	p := s.page(r, "Customer "+cmp.Or(v.Name, v.Email, c.ID), "/customers")
	p.Flash = customerFlash(r.URL.Query()) // customer_actions.go
	s.render(w, r, http.StatusOK, views.CustomerDetailPage(p, v))
}

// invoicePage shows an invoice: its lines, amounts, status history, links
// to Stripe's hosted page and PDF, and its payment attempts
// (GET /invoices/{id}).
func (s *Server) invoicePage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.detailID(w, r, "invoice")
	if !ok {
		return
	}
	d, err := s.mirror.InvoiceDetail(r.Context(), id)
	if !s.detailFound(w, r, "invoice", id, err) {
		return
	}
	in := d.Invoice
	cur := in.Currency
	v := views.InvoiceView{ID: in.ID, URL: objectURL("invoices", in.ID), Number: deref(in.Number), Status: deref(in.Status),
		PastDue: pastDue(in.Status, in.DueDate, time.Now()), Deleted: in.Deleted, Livemode: in.Livemode,
		CustomerID: deref(in.Customer), CustomerName: deref(in.CustomerName), CustomerEmail: deref(in.CustomerEmail),
		CollectionMethod: strings.ReplaceAll(deref(in.CollectionMethod), "_", " "), Created: s.formatTime(in.Created),
		Subtotal: money.Format(in.Subtotal, cur), Total: money.Format(in.Total, cur), AmountDue: money.Format(in.AmountDue, cur),
		AmountPaid: money.Format(in.AmountPaid, cur), AmountRemaining: money.Format(in.AmountRemaining, cur),
		ChargeID: deref(in.Charge), MoreCharges: d.MoreCharges, MoreHistory: d.MoreHistory, Metadata: metadataOf(in.Data)}
	if v.CustomerID != "" {
		v.CustomerURL = objectURL("customers", v.CustomerID)
	}
	if v.ChargeID != "" {
		v.ChargeURL = objectURL("charges", v.ChargeID)
	}
	if in.Tax != nil {
		v.Tax = money.Format(*in.Tax, cur)
	}
	if in.DueDate != nil {
		v.DueDate = s.formatDate(*in.DueDate)
	}
	v.HostedURL, v.HostedRefused = webLink(in.HostedInvoiceURL)
	v.PDFURL, v.PDFRefused = webLink(in.InvoicePDF)
	for _, l := range in.Lines {
		line := views.InvoiceLineView{ID: l.ID, Description: deref(l.Description), Amount: money.Format(l.Amount, l.Currency)}
		if l.Quantity != nil {
			line.Quantity = strconv.FormatInt(*l.Quantity, 10)
		}
		if l.UnitAmount != nil {
			line.UnitAmount = money.Format(*l.UnitAmount, l.Currency)
		}
		line.Period = s.formatPeriod(l.PeriodStart, l.PeriodEnd)
		v.Lines = append(v.Lines, line)
	}
	if missing := in.LinesTotalCount - int64(len(in.Lines)); missing > 0 {
		v.LinesMissing = missing
	}
	for _, ch := range d.Charges {
		v.Charges = append(v.Charges, s.relatedCharge(ch))
	}
	for _, e := range d.History {
		h := views.InvoiceHistoryEntry{EventID: e.ID, Type: e.Type, At: s.formatTime(e.Created), Status: deref(e.InvoiceStatus)}
		if e.QueueStatus != store.EventApplied {
			h.Queue = e.QueueStatus
		}
		v.History = append(v.History, h)
	}
	v.Actions = s.invoiceActionsFor(r, in)
	p := s.page(r, "Invoice "+cmp.Or(v.Number, in.ID), "/invoices")
	p.Flash = invoiceActionFlash(r.URL.Query())
	s.render(w, r, http.StatusOK, views.InvoiceDetailPage(p, v))
}

// chargePage shows a charge: amounts, status, payment method, outcome,
// refunds and what can still be refunded (GET /charges/{id}).
func (s *Server) chargePage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.detailID(w, r, "charge")
	if !ok {
		return
	}
	d, err := s.mirror.ChargeDetail(r.Context(), id)
	if !s.detailFound(w, r, "charge", id, err) {
		return
	}
	c := d.Charge
	cur := c.Currency
	v := views.ChargeView{ID: c.ID, URL: objectURL("charges", c.ID), Amount: money.Format(c.Amount, cur),
		Currency: money.Code(cur), Status: c.Status, Flags: chargeFlags(c.Refunded, c.AmountRefunded, c.Disputed),
		Livemode: c.Livemode, CustomerID: deref(c.Customer), CustomerName: cmp.Or(deref(d.CustomerName), deref(d.CustomerEmail)),
		InvoiceID: deref(c.Invoice), InvoiceNumber: deref(d.InvoiceNumber), PaymentIntent: deref(c.PaymentIntent),
		CardBrand: deref(c.CardBrand), CardLast4: deref(c.CardLast4), FailureCode: deref(c.FailureCode),
		FailureMessage: deref(c.FailureMessage), ReceiptEmail: deref(c.ReceiptEmail), ReceiptNumber: deref(c.ReceiptNumber),
		Description: deref(c.Description), Created: s.formatTime(c.Created),
		AmountCaptured: money.Format(c.AmountCaptured, cur), AmountRefunded: money.Format(c.AmountRefunded, cur),
		Refundable: money.Format(store.RefundableAmount(c), cur), MoreRefunds: d.MoreRefunds,
		Metadata: metadataOf(c.Data)}
	if v.CustomerID != "" {
		v.CustomerURL = objectURL("customers", v.CustomerID)
	}
	if v.InvoiceID != "" {
		v.InvoiceURL = objectURL("invoices", v.InvoiceID)
	}
	if o := d.Outcome; o != nil {
		v.Outcome = &views.ChargeOutcomeView{NetworkStatus: humanize(o.NetworkStatus), Type: humanize(o.Type),
			SellerMessage: o.SellerMessage, RiskLevel: humanize(o.RiskLevel), Reason: humanize(o.Reason)}
	}
	for _, re := range d.Refunds {
		v.Refunds = append(v.Refunds, s.relatedRefund(re))
	}
	if user, ok := currentUser(r); ok && user.Role.AtLeast(store.RoleSupport) && s.refunder != nil && store.RefundableAmount(c) > 0 {
		v.RefundURL = objectURL("charges", c.ID) + "/refund"
	}
	p := s.page(r, "Charge "+v.Amount+" "+c.ID, "/charges")
	if re := r.URL.Query().Get("refunded"); re != "" && validObjectID(re) {
		p.Flash = "Refund " + re + " was made."
		if r.URL.Query().Get("again") != "" {
			p.Flash = "This form's refund was already made: " + re + ". Nothing was refunded again."
		}
	}
	s.render(w, r, http.StatusOK, views.ChargeDetailPage(p, v))
}

// refundPage shows a refund and the charge it returns money from
// (GET /refunds/{id}).
func (s *Server) refundPage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.detailID(w, r, "refund")
	if !ok {
		return
	}
	d, err := s.mirror.RefundDetail(r.Context(), id)
	if !s.detailFound(w, r, "refund", id, err) {
		return
	}
	re := d.Refund
	v := views.RefundView{ID: re.ID, URL: objectURL("refunds", re.ID), Amount: money.Format(re.Amount, re.Currency),
		Currency: money.Code(re.Currency), Status: deref(re.Status), Reason: humanize(deref(re.Reason)),
		FailureReason: humanize(deref(re.FailureReason)), ReceiptNumber: deref(re.ReceiptNumber),
		Created: s.formatTime(re.Created), Livemode: re.Livemode, ChargeID: deref(re.Charge), Metadata: metadataOf(re.Data)}
	if v.ChargeID != "" {
		v.ChargeURL = objectURL("charges", v.ChargeID)
	}
	if ch := d.Charge; ch != nil {
		v.ChargeMirrored = true
		v.ChargeAmount = money.Format(ch.Amount, ch.Currency)
		v.ChargeStatus = ch.Status
		v.CustomerID, v.CustomerName = deref(ch.Customer), deref(d.CustomerName)
		if v.CustomerID != "" {
			v.CustomerURL = objectURL("customers", v.CustomerID)
		}
	}
	s.render(w, r, http.StatusOK, views.RefundDetailPage(s.page(r, "Refund "+v.Amount+" "+re.ID, "/refunds"), v))
}

// detailID reads the {id} of a detail route. Stripe ids are short runs of
// letters, digits and underscores; anything else cannot be in the mirror,
// so it answers the same 404 as an unknown id without asking the database.
func (s *Server) detailID(w http.ResponseWriter, r *http.Request, what string) (string, bool) {
	id := r.PathValue("id")
	if !validObjectID(id) {
		s.renderError(w, r, http.StatusNotFound, "There is no "+what+" with this id in paydesk's mirror of Stripe.")
		return "", false
	}
	return id, true
}

// detailFound answers a failed read: 404 for an unknown id, 500 for
// anything else. It reports whether the page can go on.
func (s *Server) detailFound(w http.ResponseWriter, r *http.Request, what, id string, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		s.renderError(w, r, http.StatusNotFound, "There is no "+what+" "+id+" in paydesk's mirror of Stripe. "+
			"If it was created moments ago, its webhook may still be on its way.")
	default:
		s.serverError(w, r, "cannot read a "+what, err)
	}
	return false
}

func validObjectID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// objectURL is the detail page of a mirrored object: "/charges/ch_123".
func objectURL(list, id string) string { return "/" + list + "/" + url.PathEscape(id) }

// filteredListURL is a list filtered on one parameter:
// "/invoices?customer=cus_123".
func filteredListURL(list, param, value string) string {
	return "/" + list + "?" + url.Values{param: {value}}.Encode()
}

func (s *Server) relatedInvoice(in store.InvoiceSummary, now time.Time) views.RelatedInvoice {
	v := views.RelatedInvoice{ID: in.ID, URL: objectURL("invoices", in.ID), Number: deref(in.Number), Status: deref(in.Status),
		PastDue: pastDue(in.Status, in.DueDate, now), Total: money.Format(in.Total, in.Currency),
		AmountRemaining: money.Format(in.AmountRemaining, in.Currency), Created: s.formatTime(in.Created)}
	if in.DueDate != nil {
		v.DueDate = s.formatDate(*in.DueDate)
	}
	return v
}

func (s *Server) relatedCharge(c store.ChargeSummary) views.RelatedCharge {
	v := views.RelatedCharge{ID: c.ID, URL: objectURL("charges", c.ID), Amount: money.Format(c.Amount, c.Currency),
		Status: c.Status, Flags: chargeFlags(c.Refunded, c.AmountRefunded, c.Disputed), Description: deref(c.Description),
		Created: s.formatTime(c.Created)}
	if c.AmountRefunded > 0 {
		v.AmountRefunded = money.Format(c.AmountRefunded, c.Currency)
	}
	if brand, last4 := deref(c.CardBrand), deref(c.CardLast4); brand != "" || last4 != "" {
		v.Card = strings.TrimSpace(brand + " •••• " + last4)
	}
	return v
}

func (s *Server) relatedRefund(re store.RefundSummary) views.RelatedRefund {
	v := views.RelatedRefund{ID: re.ID, URL: objectURL("refunds", re.ID), Amount: money.Format(re.Amount, re.Currency),
		Status: deref(re.Status), Reason: humanize(deref(re.Reason)), ChargeID: deref(re.Charge), Created: s.formatTime(re.Created)}
	if v.ChargeID != "" {
		v.ChargeURL = objectURL("charges", v.ChargeID)
	}
	return v
}

// chargeFlags are the states Stripe keeps beside a charge's status: fully
// or partially refunded, disputed.
func chargeFlags(refunded bool, amountRefunded int64, disputed bool) []string {
	var flags []string
	switch {
	case refunded:
		flags = append(flags, "refunded")
	case amountRefunded > 0:
		flags = append(flags, "partially refunded")
	}
	if disputed {
		flags = append(flags, "disputed")
	}
	return flags
}

// pastDue reports whether an invoice is open with its due date passed.
func pastDue(status *string, due *time.Time, now time.Time) bool {
	return status != nil && *status == "open" && due != nil && due.Before(now)
}

// webLink returns raw when it is an absolute http(s) URL, to be linked;
// refused is true when something else was stored (javascript:, data:, a
// relative path), which the page mentions without linking.
func webLink(raw *string) (href string, refused bool) {
	if raw == nil || strings.TrimSpace(*raw) == "" {
		return "", false
	}
	u, err := url.Parse(*raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", true
	}
	return u.String(), false
}

// metadataOf reads the metadata of a stored Stripe object, sorted by key.
// Stripe's values are strings; any other JSON value is shown as JSON.
func metadataOf(data json.RawMessage) []views.MetadataEntry {
	var obj struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
	}
	if len(data) == 0 || json.Unmarshal(data, &obj) != nil {
		return nil
	}
	out := make([]views.MetadataEntry, 0, len(obj.Metadata))
	for k, raw := range obj.Metadata {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		out = append(out, views.MetadataEntry{Key: k, Value: s})
	}
	slices.SortFunc(out, func(a, b views.MetadataEntry) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// humanize turns Stripe's enum values into words:
// "requested_by_customer" -> "requested by customer".
func humanize(s string) string { return strings.ReplaceAll(s, "_", " ") }

// formatDate is t's day in the display time zone.
func (s *Server) formatDate(t time.Time) string { return t.In(s.loc).Format(time.DateOnly) }

// formatPeriod is an invoice line's service period as days in the display
// time zone: "2024-05-01 – 2024-05-31", or one day when both ends fall on it.
func (s *Server) formatPeriod(start, end *time.Time) string {
	switch {
	case start == nil && end == nil:
		return ""
	case start == nil:
		return "until " + s.formatDate(*end)
	case end == nil:
		return "from " + s.formatDate(*start)
	}
	from, to := s.formatDate(*start), s.formatDate(*end)
	if from == to {
		return from
	}
	return from + " – " + to
}
