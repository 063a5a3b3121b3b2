package handlers

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"paydesk/store"
	"paydesk/store/money"
	"paydesk/stripeapi"
	"paydesk/views"
)

// Invoicer makes invoices and changes their state on Stripe:
// *stripeapi.Invoices.
type Invoicer interface {
	// CreateDraftRecord creates a draft with its items, every call under a
	// key derived from the given one, and returns the invoice as Stripe
	// has it then, with Stripe's request id.
	CreateDraftRecord(ctx context.Context, idempotencyKey string, p stripeapi.InvoiceCreate, items []stripeapi.InvoiceItemCreate) (store.Invoice, string, error)
	// ActRecord finalizes, sends, voids, marks uncollectible, pays or
	// deletes an invoice and returns Stripe's answer as a row.
	ActRecord(ctx context.Context, idempotencyKey, id string, action stripeapi.InvoiceAction, pay stripeapi.InvoicePay) (store.Invoice, string, error)
}

// invoiceAction is one of the state changes offered on an invoice page,
// each a POST under the invoice (POST /invoices/{id}/finalize, ...).
type invoiceAction struct {
	// Name is the path segment and the form's name for it.
	Name string
	// Audit names it in stripe_actions and the audit log.
	Audit  string
	Stripe stripeapi.InvoiceAction
	// Label is the button; Done the flash once it is done.
	Label, Done string
	// Explain says what it does, on the confirmation page.
	Explain string
	// Confirm asks for a confirmation step first (what cannot be undone).
	Confirm bool
	// Allowed says when Stripe allows it: "" when it does in the
	// invoice's state, else why not.
	Allowed func(in store.Invoice) string
}

// invoiceActions are the actions in the order the invoice page offers
// them. The states are Stripe's: a draft is finalized or deleted; an open
// invoice is sent (send_invoice), paid, marked uncollectible or voided;
// an uncollectible one can still be voided.
var invoiceActions = []invoiceAction{
	{Name: "finalize", Audit: "invoice.finalize", Stripe: stripeapi.InvoiceFinalize, Label: "Finalize",
		Done:    "The invoice was finalized.",
		Explain: "Finalizing turns the draft into an open invoice with a number; its lines can no longer change.",
		Allowed: inStatus("draft")},
	{Name: "send", Audit: "invoice.send", Stripe: stripeapi.InvoiceSend, Label: "Send to the customer",
		Done:    "The invoice was sent to the customer.",
		Explain: "Stripe emails the invoice to the customer, with a link to pay it.",
		Allowed: func(in store.Invoice) string {
			if why := inStatus("open")(in); why != "" {
				return why
			}
			if deref(in.CollectionMethod) != "send_invoice" {
				return "Only an invoice the customer pays themselves (collection: send invoice) is sent; this one is charged automatically."
			}
			return ""
		}},
	{Name: "pay", Audit: "invoice.pay", Stripe: stripeapi.InvoicePayNow, Label: "Pay", Confirm: true,
		Done:    "The invoice was paid.",
		Explain: "Stripe charges the customer's default payment method for what remains due, or records the invoice as paid outside Stripe.",
		Allowed: inStatus("open")},
	{Name: "mark-uncollectible", Audit: "invoice.mark_uncollectible", Stripe: stripeapi.InvoiceMarkUncollectible,
		Label: "Mark uncollectible", Confirm: true,
		Done:    "The invoice was marked uncollectible.",
		Explain: "The invoice is written off as bad debt. It can still be paid or voided later.",
		Allowed: inStatus("open")},
	{Name: "void", Audit: "invoice.void", Stripe: stripeapi.InvoiceVoid, Label: "Void", Confirm: true,
		Done:    "The invoice was voided.",
		Explain: "A voided invoice is closed for good: it can never be paid or reopened. Its number stays used.",
		Allowed: inStatus("open", "uncollectible")},
	{Name: "delete", Audit: "invoice.delete", Stripe: stripeapi.InvoiceDelete, Label: "Delete draft", Confirm: true,
		Done:    "The draft invoice was deleted.",
		Explain: "The draft and its lines are deleted on Stripe. This cannot be undone.",
		Allowed: inStatus("draft")},
}

// inStatus allows an action on invoices in one of the statuses.
func inStatus(statuses ...string) func(store.Invoice) string {
	return func(in store.Invoice) string {
		status := deref(in.Status)
		for _, st := range statuses {
			if status == st {
				return ""
			}
		}
		return "Stripe does not allow this for an invoice that is " + cmp.Or(status, "of unknown status") + "; it needs one that is " +
			orList(statuses) + "."
	}
}

func orList(words []string) string {
	switch len(words) {
	case 1:
		return words[0]
	case 2:
		return words[0] + " or " + words[1]
	}
	out := ""
	for i, w := range words {
		switch {
		case i == len(words)-1:
			out += ", or " + w
		case i > 0:
			out += ", " + w
		default:
			out = w
		}
	}
	return out
}

func findInvoiceAction(name string) (invoiceAction, bool) {
	for _, a := range invoiceActions {
		if a.Name == name {
			return a, true
		}
	}
	return invoiceAction{}, false
}

// invoiceActionKey is the idempotency key of an action's form: the
// invoice, the action and the invoice's state when the form was made (its
// status and its mirror version, which every write-through and webhook
// moves on). Every form made from one state (a double click, a retried
// post, a second tab) carries the same key, so Stripe acts once; once the
// result is recorded the next form gets another key.
func invoiceActionKey(in store.Invoice, a invoiceAction) string {
	h := sha256.Sum256([]byte(in.ID + "\x00" + a.Name + "\x00" + deref(in.Status) + "\x00" + strconv.FormatInt(in.Version, 10)))
	return "paydesk-invoice-" + a.Name + "-" + in.ID + "-" + hex.EncodeToString(h[:12])
}

// payModes are how an invoice is paid: by charging the customer, or as
// paid outside Stripe. The mode is part of the key Stripe gets, as two
// different requests must not share one.
var payModes = map[string]stripeapi.InvoicePay{"charge": {}, "out_of_band": {PaidOutOfBand: true}}

// invoiceActionsFor are the action buttons of an invoice page: for staff
// who may run invoices, and only those Stripe allows in its state.
func (s *Server) invoiceActionsFor(r *http.Request, in store.Invoice) []views.InvoiceActionButton {
	user, ok := currentUser(r)
	if !ok || !user.Role.AtLeast(store.RoleBilling) || s.invoicer == nil || s.actions == nil || in.Deleted {
		return nil
	}
	var out []views.InvoiceActionButton
	for _, a := range invoiceActions {
		if a.Allowed(in) != "" {
			continue
		}
		b := views.InvoiceActionButton{Name: a.Name, Label: a.Label, URL: objectURL("invoices", in.ID) + "/" + a.Name,
			Key: invoiceActionKey(in, a), Step: "confirm", Destructive: a.Confirm && a.Stripe != stripeapi.InvoicePayNow}
		if a.Confirm {
			b.Step = "review"
		}
		out = append(out, b)
	}
	return out
}

// invoiceActionFlash is the invoice page's notice after an action
// (?done=finalize, &again=1 when an earlier submission had done it).
func invoiceActionFlash(q url.Values) string {
	done := q.Get("done")
	if done == "create" {
		if q.Get("again") != "" {
			return "This form's draft was already created; nothing was created again."
		}
		return "The draft invoice was created. Finalize it when it is ready to go to the customer."
	}
	a, ok := findInvoiceAction(done)
	if !ok {
		return ""
	}
	if q.Get("again") != "" {
		return "This form was already carried out (" + a.Label + "); nothing was done again."
	}
	return a.Done
}

// invoiceActionHandler answers POST /invoices/{id}/<action>: step=review
// shows the confirmation, step=confirm acts. The action is checked against
// the mirror's state and the form's key before Stripe is called; a refused
// post calls nothing and writes no audit row.
func (s *Server) invoiceActionHandler(name string) http.HandlerFunc {
	a, ok := findInvoiceAction(name)
	if !ok {
		panic("handlers: unknown invoice action " + name)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		id, ok := s.detailID(w, r, "invoice")
		if !ok {
			return
		}
		d, err := s.mirror.InvoiceDetail(r.Context(), id)
		if !s.detailFound(w, r, "invoice", id, err) {
			return
		}
		in := d.Invoice
		form := r.PostForm
		step, key := form.Get("step"), form.Get("key")
		if step != "review" && step != "confirm" {
			s.renderError(w, r, http.StatusBadRequest, "The form could not be read; open the invoice again.")
			return
		}
		f := s.newInvoiceActionForm(in, a)
		f.PayMode = form.Get("pay")
		pay, payOK := payModes[f.PayMode]
		stripeKey := key
		if a.Stripe == stripeapi.InvoicePayNow && payOK {
			stripeKey += "-" + f.PayMode
		}

		// A form already sent to Stripe is answered with what became of
		// it, whatever the invoice looks like now.
		if key != "" && key != f.Key {
			out, found, err := s.priorAction(r, stripeKey, a.Audit, "invoice:"+in.ID, false)
			if err != nil {
				s.serverError(w, r, "cannot read an invoice action", err)
				return
			}
			if found {
				s.invoiceActionOutcome(w, r, f, a, out)
				return
			}
		}
		if f.Unavailable != "" {
			s.renderInvoiceAction(w, r, http.StatusConflict, f)
			return
		}
		if key != f.Key {
			f.Error = "This invoice has changed since the page was opened: it is " + cmp.Or(f.Status, "of unknown status") +
				" now, with " + f.AmountRemaining + " remaining. Check it and confirm again."
			f.Confirm = true
			s.renderInvoiceAction(w, r, http.StatusConflict, f)
			return
		}
		if step == "review" {
			f.Confirm = true
			if f.PayMode == "" {
				f.PayMode = "charge"
			}
			s.renderInvoiceAction(w, r, http.StatusOK, f)
			return
		}
		if a.Stripe == stripeapi.InvoicePayNow && !payOK {
			f.Confirm, f.PayMode = true, "charge"
			f.Error = "Choose how the invoice is paid."
			s.renderInvoiceAction(w, r, http.StatusUnprocessableEntity, f)
			return
		}
		s.runInvoiceAction(w, r, in, f, a, stripeKey, pay)
	}
}

// runInvoiceAction sends a checked action to Stripe once (runStripeAction)
// and answers with what became of it.
func (s *Server) runInvoiceAction(w http.ResponseWriter, r *http.Request, in store.Invoice, f views.InvoiceActionForm,
	a invoiceAction, key string, pay stripeapi.InvoicePay) {
	params := map[string]any{"invoice": in.ID, "status_before": deref(in.Status), "number": deref(in.Number),
		"currency": in.Currency, "total": in.Total, "amount_remaining": in.AmountRemaining}
	if a.Stripe == stripeapi.InvoicePayNow {
		params["paid_out_of_band"] = pay.PaidOutOfBand
	}
	out, err := s.runStripeAction(r, stripeAction{Key: key, Action: a.Audit, Target: "invoice:" + in.ID, Params: params,
		Refusals: invoiceRefusals,
		Call: func(ctx context.Context) (string, string, func(context.Context, *store.Store) error, error) {
			row, requestID, err := s.invoicer.ActRecord(ctx, key, in.ID, a.Stripe, pay)
			if err != nil {
				return "", requestID, nil, err
			}
			return in.ID, requestID, func(ctx context.Context, tx *store.Store) error {
				if row.Deleted {
					return tx.WriteThroughInvoiceDeleted(ctx, in.ID, row.Livemode, row.Version)
				}
				return tx.WriteThroughInvoice(ctx, row)
			}, nil
		}})
	if err != nil {
		s.actionFailed(w, r, err)
		return
	}
	s.invoiceActionOutcome(w, r, f, a, out)
}

// invoiceRefusals word Stripe's refusals of invoice actions.
var invoiceRefusals = map[string]string{
	"invoice_not_editable":                   "Stripe says this invoice can no longer be changed this way. Reload it to see its state on Stripe.",
	"invoice_no_customer_line_items":         "Stripe refused: the invoice has no lines to bill.",
	"invoice_payment_intent_requires_action": "The customer must complete a payment step (such as 3-D Secure) before this invoice can be paid.",
	"card_declined":                          "The customer's card was declined. Nothing was paid.",
	"resource_missing":                       "Stripe does not know this invoice (it may have been deleted there). The mirror will follow once Stripe's webhook arrives.",
}

// invoiceActionOutcome answers with what became of an action: the invoice
// page with a flash once done (now or by an earlier submission of the
// form), else the confirmation page with Stripe's refusal or a notice.
func (s *Server) invoiceActionOutcome(w http.ResponseWriter, r *http.Request, f views.InvoiceActionForm, a invoiceAction, out actionOutcome) {
	switch {
	case out.Result != "":
		q := url.Values{"done": {a.Name}}
		if out.Again {
			q.Set("again", "1")
		}
		http.Redirect(w, r, f.InvoiceURL+"?"+q.Encode(), http.StatusSeeOther)
	case out.Pending:
		s.renderError(w, r, http.StatusConflict, "This action was already sent to Stripe and its answer is still on its way. "+
			"Open the invoice again in a moment; do not repeat it.")
	case out.Refusal != nil:
		msg, status := stripeRefusal(out.Refusal, invoiceRefusals)
		f.Error, f.Confirm = msg, true
		s.renderInvoiceAction(w, r, status, f)
	default:
		f.Error, f.Confirm = "Stripe refused this earlier: "+out.PriorRefusal, true
		s.renderInvoiceAction(w, r, http.StatusConflict, f)
	}
}

func (s *Server) newInvoiceActionForm(in store.Invoice, a invoiceAction) views.InvoiceActionForm {
	cur := in.Currency
	f := views.InvoiceActionForm{InvoiceID: in.ID, InvoiceURL: objectURL("invoices", in.ID), Number: deref(in.Number),
		Customer: cmp.Or(deref(in.CustomerName), deref(in.CustomerEmail), deref(in.Customer)), Status: deref(in.Status),
		Collection: humanize(deref(in.CollectionMethod)), Total: money.Format(in.Total, cur),
		AmountRemaining: money.Format(in.AmountRemaining, cur), Name: a.Name, Label: a.Label, Explain: a.Explain,
		Action: objectURL("invoices", in.ID) + "/" + a.Name, Key: invoiceActionKey(in, a), Pay: a.Stripe == stripeapi.InvoicePayNow}
	if in.DueDate != nil {
		f.DueDate = s.formatDate(*in.DueDate)
	}
	switch {
	case s.invoicer == nil || s.actions == nil:
		f.Unavailable = "Invoice actions are not available: paydesk has no Stripe key configured."
	case in.Deleted:
		f.Unavailable = "This draft invoice was deleted on Stripe."
	default:
		f.Unavailable = a.Allowed(in)
	}
	return f
}

func (s *Server) renderInvoiceAction(w http.ResponseWriter, r *http.Request, status int, f views.InvoiceActionForm) {
	w.Header()["Cache-Control"] = noStoreCache
	title := f.Label + " invoice " + cmp.Or(f.Number, f.InvoiceID)
	s.render(w, r, status, views.InvoiceActionPage(s.page(r, title, "/invoices"), f))
}

// Creating a draft invoice for a customer
// (GET /customers/{id}/invoices/new, POST /customers/{id}/invoices).

const (
	invoiceCreateAction = "invoice.create"
	invoiceKeyPrefix    = "paydesk-invoice-create-"
	// maxInvoiceLines bounds the lines of one invoice made here.
	maxInvoiceLines = 50
	// newInvoiceRows are the empty rows a form offers, and "More lines"
	// adds.
	newInvoiceRows   = 5
	maxInvoiceText   = 500
	maxLineQuantity  = 1_000_000
	maxLineAmount    = 999_999_999_999 // minor units, quantity × unit amount
	maxDaysUntilDue  = 3650
	defaultDueInDays = "30"
)

// newInvoiceKey is the idempotency key of a new invoice form: random, made
// when the form is opened, so a double click or a retried post of that
// form make one invoice, while a second form makes a second invoice.
func newInvoiceKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return invoiceKeyPrefix + hex.EncodeToString(b)
}

func validInvoiceKey(key string) bool {
	rest, ok := strings.CutPrefix(key, invoiceKeyPrefix)
	if !ok || len(rest) != 32 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// invoiceForm shows the new invoice form of a customer
// (GET /customers/{id}/invoices/new).
func (s *Server) invoiceForm(w http.ResponseWriter, r *http.Request) {
	d, ok := s.invoiceCustomer(w, r)
	if !ok {
		return
	}
	f := s.newInvoiceCreateForm(d)
	f.Key, f.Collection, f.DueDays = newInvoiceKey(), "send_invoice", defaultDueInDays
	// The customer's currency when Stripe has fixed one, else that of
	// their latest invoice.
	cur := deref(d.Customer.Currency)
	if cur == "" && len(d.Invoices) > 0 {
		cur = d.Invoices[0].Currency
	}
	f.Currency = money.Code(cmp.Or(cur, "usd"))
	f.Lines = moreInvoiceRows(nil)
	s.renderInvoiceCreate(w, r, http.StatusOK, f)
}

// createInvoice checks a new invoice form and creates the draft on Stripe
// (POST /customers/{id}/invoices). step=more shows the form again with
// more empty lines; step=create creates it.
func (s *Server) createInvoice(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	d, ok := s.invoiceCustomer(w, r)
	if !ok {
		return
	}
	form := r.PostForm
	f := s.newInvoiceCreateForm(d)
	f.Key, f.Currency, f.Collection = form.Get("key"), strings.TrimSpace(form.Get("currency")), form.Get("collection")
	f.DueDays, f.DueDate, f.Memo = strings.TrimSpace(form.Get("due_days")), strings.TrimSpace(form.Get("due_date")), strings.TrimSpace(form.Get("memo"))
	lines, ok := invoiceLinesOf(form)
	step := form.Get("step")
	if !validInvoiceKey(f.Key) || !ok || step != "create" && step != "more" {
		s.renderError(w, r, http.StatusBadRequest, "The form could not be read; open the new invoice form again.")
		return
	}
	f.Lines = lines

	// A form already carried out (or on its way) is answered with what
	// became of it; one Stripe refused may be sent again.
	if out, found, err := s.priorAction(r, f.Key, invoiceCreateAction, "customer:"+d.Customer.ID, true); err != nil {
		s.serverError(w, r, "cannot read an invoice request", err)
		return
	} else if found {
		s.invoiceCreateOutcome(w, r, f, out)
		return
	}
	if f.Unavailable != "" {
		s.renderInvoiceCreate(w, r, http.StatusConflict, f)
		return
	}
	if step == "more" {
		f.Lines = moreInvoiceRows(f.Lines)
		s.renderInvoiceCreate(w, r, http.StatusOK, f)
		return
	}
	p, items := s.checkInvoice(&f, d.Customer)
	if len(f.Errors) > 0 {
		s.renderInvoiceCreate(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	s.makeInvoice(w, r, f, p, items)
}

// invoiceCustomer reads the customer of a new invoice route, answering 404
// itself.
func (s *Server) invoiceCustomer(w http.ResponseWriter, r *http.Request) (store.CustomerDetail, bool) {
	id, ok := s.detailID(w, r, "customer")
	if !ok {
		return store.CustomerDetail{}, false
	}
	d, err := s.mirror.CustomerDetail(r.Context(), id)
	if !s.detailFound(w, r, "customer", id, err) {
		return store.CustomerDetail{}, false
	}
	return d, true
}

func (s *Server) newInvoiceCreateForm(d store.CustomerDetail) views.InvoiceCreateForm {
	c := d.Customer
	f := views.InvoiceCreateForm{CustomerID: c.ID, CustomerURL: objectURL("customers", c.ID),
		Customer: cmp.Or(deref(c.Name), deref(c.Email), c.ID), CustomerEmail: deref(c.Email),
		Action: objectURL("customers", c.ID) + "/invoices", MaxLines: maxInvoiceLines,
		Today: time.Now().In(s.loc).Format(time.DateOnly), Errors: map[string]string{}}
	switch {
	case s.invoicer == nil || s.actions == nil:
		f.Unavailable = "Invoices cannot be created: paydesk has no Stripe key configured."
	case c.Deleted:
		f.Unavailable = "This customer was deleted on Stripe: no invoice can be made for them."
	}
	return f
}

// invoiceLinesOf reads the form's lines (line-N-description,
// line-N-quantity, line-N-unit_amount) in the order of N. ok is false for
// a form no page of paydesk makes.
func invoiceLinesOf(form url.Values) ([]views.InvoiceLineInput, bool) {
	rows := map[int]*views.InvoiceLineInput{}
	for name, values := range form {
		rest, found := strings.CutPrefix(name, "line-")
		if !found {
			continue
		}
		num, field, found := strings.Cut(rest, "-")
		n, err := strconv.Atoi(num)
		if !found || err != nil || n < 0 || n >= 10*maxInvoiceLines || len(values) != 1 {
			return nil, false
		}
		row := rows[n]
		if row == nil {
			row = &views.InvoiceLineInput{}
			rows[n] = row
		}
		v := strings.TrimSpace(values[0])
		switch field {
		case "description":
			row.Description = v
		case "quantity":
			row.Quantity = v
		case "unit_amount":
			row.UnitAmount = v
		default:
			return nil, false
		}
	}
	nums := slices.Sorted(maps.Keys(rows))
	out := make([]views.InvoiceLineInput, len(nums))
	for i, n := range nums {
		out[i] = *rows[n]
	}
	return out, true
}

// moreInvoiceRows adds empty rows (quantity 1) to a form's lines, up to
// the most an invoice may have, keeping at least newInvoiceRows rows.
func moreInvoiceRows(lines []views.InvoiceLineInput) []views.InvoiceLineInput {
	want := min(max(len(lines)+newInvoiceRows, newInvoiceRows), maxInvoiceLines)
	for len(lines) < want {
		lines = append(lines, views.InvoiceLineInput{Quantity: "1"})
	}
	return lines
}

// blankLine is a row left empty: a quantity alone does not make a line.
func blankLine(l views.InvoiceLineInput) bool { return l.Description == "" && l.UnitAmount == "" }

// checkInvoice checks a new invoice form, recording each problem on its
// field, and returns what Stripe is to get.
func (s *Server) checkInvoice(f *views.InvoiceCreateForm, c store.Customer) (stripeapi.InvoiceCreate, []stripeapi.InvoiceItemCreate) {
	cur := strings.ToLower(f.Currency)
	if len(cur) != 3 || strings.Trim(cur, "abcdefghijklmnopqrstuvwxyz") != "" {
		f.Errors["currency"] = "Enter the currency as its three-letter code, like USD."
		cur = ""
	} else {
		f.Currency = money.Code(cur)
	}
	p := stripeapi.InvoiceCreate{Customer: c.ID, Currency: cur, CollectionMethod: f.Collection, Description: f.Memo,
		AutoAdvance: new(false)}
	switch f.Collection {
	case "send_invoice":
		s.checkDue(f, &p)
	case "charge_automatically":
	default:
		f.Errors["collection"] = "Choose how the invoice is collected."
	}
	if msg := textProblem(f.Memo, maxInvoiceText); msg != "" {
		f.Errors["memo"] = msg
	}

	var items []stripeapi.InvoiceItemCreate
	for i, l := range f.Lines {
		if blankLine(l) {
			continue
		}
		item := stripeapi.InvoiceItemCreate{Description: l.Description}
		field := func(name string) string { return views.LineField(i, name) }
		if l.Description == "" {
			f.Errors[field("description")] = "Describe what is billed."
		} else if msg := textProblem(l.Description, maxInvoiceText); msg != "" {
			f.Errors[field("description")] = msg
		}
		q, err := strconv.ParseInt(l.Quantity, 10, 64)
		switch {
		case l.Quantity == "":
			f.Errors[field("quantity")] = "Enter a quantity."
		case err != nil || q < 1 || q > maxLineQuantity:
			f.Errors[field("quantity")] = "Enter a whole number from 1 to " + strconv.Itoa(maxLineQuantity) + "."
		default:
			item.Quantity = q
		}
		if cur != "" {
			item.UnitAmount = s.checkUnitAmount(f, field("unit_amount"), l.UnitAmount, cur)
			if item.Quantity > 0 && item.UnitAmount > maxLineAmount/item.Quantity {
				f.Errors[field("unit_amount")] = "This line comes to more than " + money.Format(maxLineAmount, cur) +
					", the most one line may bill here."
			}
		}
		items = append(items, item)
	}
	switch {
	case len(items) == 0:
		f.Errors["lines"] = "Add at least one line: a description and a unit amount."
	case len(items) > maxInvoiceLines:
		f.Errors["lines"] = "An invoice made here has at most " + strconv.Itoa(maxInvoiceLines) + " lines; this one has " +
			strconv.Itoa(len(items)) + ". Split it into several invoices."
	}
	return p, items
}

// checkDue reads a send_invoice's due date: days until due, or a date in
// the display time zone, due at the end of that day; not in the past.
func (s *Server) checkDue(f *views.InvoiceCreateForm, p *stripeapi.InvoiceCreate) {
	switch {
	case f.DueDays == "" && f.DueDate == "":
		f.Errors["due"] = "Say when the invoice is due: a number of days, or a date."
	case f.DueDays != "" && f.DueDate != "":
		f.Errors["due"] = "Give either the number of days or a due date, not both."
	case f.DueDays != "":
		days, err := strconv.Atoi(f.DueDays)
		if err != nil || days < 1 || days > maxDaysUntilDue {
			f.Errors["due"] = "Enter the days until it is due as a whole number from 1 to " + strconv.Itoa(maxDaysUntilDue) + "."
			return
		}
		p.DaysUntilDue = int64(days)
	default:
		day, err := time.ParseInLocation(time.DateOnly, f.DueDate, s.loc)
		if err != nil {
			f.Errors["due"] = "Enter the due date as YYYY-MM-DD."
			return
		}
		today, _ := time.ParseInLocation(time.DateOnly, time.Now().In(s.loc).Format(time.DateOnly), s.loc)
		switch {
		case day.Before(today):
			f.Errors["due"] = "The due date " + f.DueDate + " is in the past: choose today or a later day."
			return
		case day.After(today.AddDate(0, 0, maxDaysUntilDue)):
			f.Errors["due"] = "Choose a due date within " + strconv.Itoa(maxDaysUntilDue) + " days."
			return
		}
		// The end of that day, in the display time zone.
		due := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, s.loc).Add(-time.Second)
		p.DueDate = &due
	}
}

// checkUnitAmount parses a line's unit amount in the invoice's currency,
// recording a problem on the field.
func (s *Server) checkUnitAmount(f *views.InvoiceCreateForm, field, typed, cur string) int64 {
	amount, err := money.Parse(typed, cur)
	code, places := money.Code(cur), money.Exponent(cur)
	switch {
	case typed == "":
		f.Errors[field] = "Enter the unit amount."
	case errors.Is(err, money.ErrTooManyPlaces):
		if places == 0 {
			f.Errors[field] = code + " has no decimals: enter a whole amount."
		} else {
			f.Errors[field] = code + " has " + strconv.Itoa(places) + " decimal places: enter at most that many."
		}
	case errors.Is(err, money.ErrNegative):
		f.Errors[field] = "The unit amount cannot be negative: credits are not made here."
	case errors.Is(err, money.ErrRange) || err == nil && amount > maxLineAmount:
		f.Errors[field] = "The unit amount is more than " + money.Format(maxLineAmount, cur) + "."
	case err != nil:
		f.Errors[field] = "Enter the amount as a number, like " + money.Major(1250*pow10(places)/100, cur) + "."
	default:
		return amount
	}
	return 0
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// textProblem says what is wrong with a free text field, or "".
func textProblem(s string, limit int) string {
	switch {
	case utf8.RuneCountInString(s) > limit:
		return "Keep it under " + strconv.Itoa(limit) + " characters."
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return "It holds characters that cannot be stored."
	}
	return ""
}

// invoiceStripeKey is the key the calls of a checked form are made under:
// the form's key and a digest of what is sent. The same form sent again
// replays Stripe's answers; the form changed after Stripe refused it makes
// new calls rather than reuse keys with other parameters, which Stripe
// refuses.
func invoiceStripeKey(formKey string, p stripeapi.InvoiceCreate, items []stripeapi.InvoiceItemCreate) string {
	b, _ := json.Marshal(struct {
		P     stripeapi.InvoiceCreate
		Items []stripeapi.InvoiceItemCreate
	}{p, items})
	h := sha256.Sum256(b)
	return formKey + "-" + hex.EncodeToString(h[:8])
}

// invoiceCreateRefusals word Stripe's refusals of a new invoice.
var invoiceCreateRefusals = map[string]string{
	"resource_missing": "Stripe does not know this customer or something the invoice names (it may have been deleted there).",
}

// makeInvoice creates a checked draft on Stripe once (runStripeAction) and
// answers with what became of it.
func (s *Server) makeInvoice(w http.ResponseWriter, r *http.Request, f views.InvoiceCreateForm, p stripeapi.InvoiceCreate,
	items []stripeapi.InvoiceItemCreate) {
	me, _ := currentUser(r)
	p.Metadata = map[string]string{"paydesk_user": me.Email}
	stripeKey := invoiceStripeKey(f.Key, p, items)
	var total int64
	lines := make([]map[string]any, len(items))
	for i, it := range items {
		total += it.Quantity * it.UnitAmount
		lines[i] = map[string]any{"description": it.Description, "quantity": it.Quantity, "unit_amount": it.UnitAmount}
	}
	params := map[string]any{"customer": p.Customer, "currency": p.Currency, "collection_method": p.CollectionMethod,
		"lines": lines, "total": total, "stripe_key": stripeKey}
	if p.DaysUntilDue != 0 {
		params["days_until_due"] = p.DaysUntilDue
	}
	if p.DueDate != nil {
		params["due_date"] = p.DueDate.Unix()
	}
	if p.Description != "" {
		params["memo"] = p.Description
	}
	out, err := s.runStripeAction(r, stripeAction{Key: f.Key, Action: invoiceCreateAction, Target: "customer:" + p.Customer,
		Params: params, Refusals: invoiceCreateRefusals,
		Call: func(ctx context.Context) (string, string, func(context.Context, *store.Store) error, error) {
			row, requestID, err := s.invoicer.CreateDraftRecord(ctx, stripeKey, p, items)
			if err != nil {
				return "", requestID, nil, err
			}
			return row.ID, requestID, func(ctx context.Context, tx *store.Store) error {
				return tx.WriteThroughInvoice(ctx, row)
			}, nil
		}})
	if err != nil {
		s.actionFailed(w, r, err)
		return
	}
	s.invoiceCreateOutcome(w, r, f, out)
}

// invoiceCreateOutcome answers with what became of a new invoice form: the
// invoice page once it exists, else the form with Stripe's refusal or a
// notice.
func (s *Server) invoiceCreateOutcome(w http.ResponseWriter, r *http.Request, f views.InvoiceCreateForm, out actionOutcome) {
	switch {
	case out.Result != "":
		q := url.Values{"done": {"create"}}
		if out.Again {
			q.Set("again", "1")
		}
		http.Redirect(w, r, objectURL("invoices", out.Result)+"?"+q.Encode(), http.StatusSeeOther)
	case out.Pending:
		s.renderError(w, r, http.StatusConflict, "This invoice was already sent to Stripe and its answer is still on its way. "+
			"Open the customer again in a moment; do not create it again.")
	case out.Refusal != nil:
		msg, status := stripeRefusal(out.Refusal, invoiceCreateRefusals)
		f.Errors[""] = msg
		s.renderInvoiceCreate(w, r, status, f)
	default:
		f.Errors[""] = "Stripe refused this invoice: " + out.PriorRefusal
		s.renderInvoiceCreate(w, r, http.StatusConflict, f)
	}
}

func (s *Server) renderInvoiceCreate(w http.ResponseWriter, r *http.Request, status int, f views.InvoiceCreateForm) {
	w.Header()["Cache-Control"] = noStoreCache
	s.render(w, r, status, views.InvoiceCreatePage(s.page(r, "New invoice for "+f.Customer, "/invoices"), f))
}
