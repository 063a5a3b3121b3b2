package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/stripeapi/stripemock"
)

// invoiceEnv is a staff server whose invoice actions reach stripe-mock
// (strict) through a stripemock.Recorder, with one customer in the
// mirror. Its refusals and delays apply to /v1/invoices and
// /v1/invoiceitems ("/v1/invoice*").
type invoiceEnv struct {
	*staffEnv
	stripe *stripemock.Recorder
}

func newInvoiceEnv(t *testing.T) *invoiceEnv {
	t.Helper()
	rec, api := startStripeRecorder(t)
	e := &invoiceEnv{staffEnv: newStaffEnv(t, handlers.Config{Invoices: api.Invoices}), stripe: rec}
	if _, err := e.st.UpsertCustomers(context.Background(), []store.Customer{{ID: "cus_inv1", Email: ptr("grace@example.com"),
		Name: ptr("Grace Hopper"), Currency: ptr("eur"), Created: time.Unix(1_700_000_000, 0), Data: json.RawMessage(`{}`),
		Version: 1}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// putInvoice stores an invoice of cus_inv1 in a status at version 10.
func (e *invoiceEnv) putInvoice(id, status, collection string, deleted bool) {
	e.t.Helper()
	if _, err := e.st.UpsertInvoices(context.Background(), []store.Invoice{{ID: id, Customer: ptr("cus_inv1"),
		CustomerName: ptr("Grace Hopper"), Number: ptr("NUM-" + id), Status: ptr(status), CollectionMethod: ptr(collection),
		Currency: "eur", Subtotal: 4200, Total: 4200, AmountDue: 4200, AmountRemaining: 4200,
		Created: time.Unix(1_700_000_200, 0), Deleted: deleted, Data: json.RawMessage(`{"id":"` + id + `","object":"invoice"}`),
		Version: 10}}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *invoiceEnv) invoice(id string) store.Invoice {
	e.t.Helper()
	d, err := e.st.InvoiceDetail(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d.Invoice
}

// postDoc posts a form and parses the answer.
func (e *invoiceEnv) postDoc(cookie *http.Cookie, path string, form url.Values) (*httptest.ResponseRecorder, *goquery.Document) {
	e.t.Helper()
	rec := e.do(http.MethodPost, path, form, cookie)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
	if err != nil {
		e.t.Fatal(err)
	}
	return rec, doc
}

// openInvoiceForm opens the new invoice form of cus_inv1.
func (e *invoiceEnv) openInvoiceForm(cookie *http.Cookie) url.Values {
	e.t.Helper()
	form := e.parsedPage(cookie, "/customers/cus_inv1/invoices/new", http.StatusOK).Find(`[data-testid="invoice-create-form"]`)
	if form.Length() != 1 {
		e.t.Fatal("no new invoice form")
	}
	v := formValues(form)
	form.Find(`input[type="radio"][checked]`).Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		val, _ := s.Attr("value")
		v.Set(name, val)
	})
	return v
}

// actionButton reads an action's form on the invoice page.
func (e *invoiceEnv) actionButton(cookie *http.Cookie, invoice, action string) url.Values {
	e.t.Helper()
	doc := e.parsedPage(cookie, "/invoices/"+invoice, http.StatusOK)
	form := doc.Find(`[data-testid="invoice-action-` + action + `"]`)
	if form.Length() != 1 {
		e.t.Fatalf("invoice %s offers no %s", invoice, action)
	}
	return formValues(form)
}

func offeredActions(doc *goquery.Document) []string {
	var out []string
	doc.Find(`[data-testid="invoice-actions"] form`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-testid")
		out = append(out, strings.TrimPrefix(id, "invoice-action-"))
	})
	return out
}

func TestInvoiceCreate(t *testing.T) {
	e := newInvoiceEnv(t)
	billing := e.mustLogin(store.RoleBilling)
	support := e.mustLogin(store.RoleSupport)

	// Billing staff are offered a new invoice on the customer page;
	// support staff are not, and cannot open the form.
	page := e.parsedPage(billing, "/customers/cus_inv1", http.StatusOK)
	if href, _ := page.Find(`[data-testid="customer-new-invoice"]`).Attr("href"); href != "/customers/cus_inv1/invoices/new" {
		t.Fatalf("new invoice link %q for billing", href)
	}
	if n := e.parsedPage(support, "/customers/cus_inv1", http.StatusOK).Find(`[data-testid="customer-new-invoice"]`).Length(); n != 0 {
		t.Errorf("support staff are offered a new invoice")
	}
	if rec := e.do(http.MethodGet, "/customers/cus_inv1/invoices/new", nil, support); rec.Code != http.StatusForbidden {
		t.Errorf("support opening the form: %d, want 403", rec.Code)
	}

	form := e.openInvoiceForm(billing)
	if form.Get("currency") != "EUR" || form.Get("collection") != "send_invoice" || form.Get("due_days") != "30" ||
		!strings.HasPrefix(form.Get("key"), "paydesk-invoice-create-") || form.Get("line-4-quantity") != "1" {
		t.Fatalf("form opened with %v", form)
	}
	if again := e.openInvoiceForm(billing); again.Get("key") == form.Get("key") {
		t.Fatalf("two forms share the key %q", form.Get("key"))
	}
	form = with(form, "step", "create", "due_days", "14", "memo", "Thanks <script>alert(1)</script>",
		"line-0-description", "Consulting, May 🙂", "line-0-quantity", "3", "line-0-unit_amount", "1,250.50",
		"line-2-description", "Travel", "line-2-quantity", "1", "line-2-unit_amount", "80")
	start := time.Now().Unix()
	rec := e.do(http.MethodPost, "/customers/cus_inv1/invoices", form, billing)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/invoices/in_") || !strings.HasSuffix(loc, "?done=create") {
		t.Fatalf("create: %d %q\n%s", rec.Code, loc, rec.Body)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(loc, "/invoices/"), "?done=create")

	// What Stripe got: the draft, its two items on it and a fetch of the
	// result, every write under a key derived from the form's.
	creates := e.stripe.Calls("POST /v1/invoices*")
	if len(creates) != 1 {
		t.Fatalf("%d invoice creations, want 1", len(creates))
	}
	c := creates[0]
	for k, want := range map[string]string{"customer": "cus_inv1", "currency": "eur", "collection_method": "send_invoice",
		"days_until_due": "14", "auto_advance": "false", "pending_invoice_items_behavior": "exclude",
		"description": "Thanks <script>alert(1)</script>", "metadata[paydesk_user]": "billing@example.com"} {
		if got := c.Form.Get(k); got != want {
			t.Errorf("invoice %s = %q, want %q", k, got, want)
		}
	}
	base, found := strings.CutSuffix(c.IdempotencyKey, "-invoice")
	if !strings.HasPrefix(c.IdempotencyKey, form.Get("key")+"-") || !found {
		t.Errorf("invoice created under %q, want a key derived from the form's %q", c.IdempotencyKey, form.Get("key"))
	}
	items := e.stripe.Calls("POST /v1/invoiceitems*")
	if len(items) != 2 {
		t.Fatalf("%d items, want 2", len(items))
	}
	for i, want := range []map[string]string{
		{"description": "Consulting, May 🙂", "quantity": "3", "unit_amount": "125050"},
		{"description": "Travel", "quantity": "1", "unit_amount": "8000"},
	} {
		want["invoice"], want["customer"], want["currency"] = id, "cus_inv1", "eur"
		for k, v := range want {
			if got := items[i].Form.Get(k); got != v {
				t.Errorf("item %d %s = %q, want %q", i+1, k, got, v)
			}
		}
		if key := items[i].IdempotencyKey; key != base+"-item-"+strconv.Itoa(i+1) {
			t.Errorf("item %d under %q, want %q", i+1, key, base+"-item-"+strconv.Itoa(i+1))
		}
	}
	if gets := e.stripe.Calls("GET /v1/invoices/" + id + "*"); len(gets) != 1 {
		t.Errorf("%d fetches of the invoice, want 1", len(gets))
	}

	// Written through: Stripe's answer (stripe-mock's fixture) with its
	// lines, at the version of the fetch; one audit row.
	in := e.invoice(id)
	if in.Status == nil || *in.Status != "draft" || in.Version < start || len(in.Lines) == 0 || in.LinesTotalCount != int64(len(in.Lines)) {
		t.Errorf("mirror after create: status %v version %d (start %d), %d lines of %d", in.Status, in.Version, start,
			len(in.Lines), in.LinesTotalCount)
	}
	var audit store.AuditRow
	if err := e.st.DB().GetContext(context.Background(), &audit, `SELECT id, at, actor_id, actor, action, target, params, outcome,
		stripe_request_id, remote_addr FROM audit_log WHERE action = 'invoice.create'`); err != nil {
		t.Fatal(err)
	}
	if audit.Outcome != store.AuditOK || audit.Actor != "billing@example.com" || *audit.Target != "customer:cus_inv1" ||
		audit.StripeRequestID == nil || *audit.StripeRequestID == "" || !strings.Contains(string(audit.Params), `"total": 383150`) ||
		!strings.Contains(string(audit.Params), `"result": "`+id+`"`) {
		t.Errorf("audit row %+v params %s", audit, audit.Params)
	}
	page = e.parsedPage(billing, loc, http.StatusOK)
	if flash := page.Find(`[data-testid="flash"]`).Text(); !strings.Contains(flash, "draft invoice was created") {
		t.Errorf("flash %q", flash)
	}

	// The same form again (a double click, a retry): the same invoice,
	// nothing more sent to Stripe, no second audit row.
	before := len(e.stripe.Requests())
	rec = e.do(http.MethodPost, "/customers/cus_inv1/invoices", form, billing)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/invoices/"+id+"?again=1&done=create" {
		t.Errorf("the form again: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if n := len(e.stripe.Requests()); n != before {
		t.Errorf("the form again sent Stripe %d requests", n-before)
	}
	if n := e.auditCount("invoice.create"); n != 1 {
		t.Errorf("%d audit rows, want 1", n)
	}

	// Concurrent: one new form submitted from many tabs at once while
	// Stripe takes its time.
	form = with(e.openInvoiceForm(billing), "step", "create", "line-0-description", "Support plan", "line-0-unit_amount", "99.99")
	e.stripe.Delay("/v1/invoice*", 200*time.Millisecond)
	const tabs = 6
	locations := make([]string, tabs)
	var wg sync.WaitGroup
	for i := range tabs {
		wg.Go(func() {
			rec := e.do(http.MethodPost, "/customers/cus_inv1/invoices", form, billing)
			if rec.Code != http.StatusSeeOther {
				t.Errorf("tab %d: %d\n%s", i, rec.Code, rec.Body)
			}
			locations[i] = strings.SplitN(rec.Header().Get("Location"), "?", 2)[0]
		})
	}
	wg.Wait()
	keys := map[string]int{}
	for _, r := range e.stripe.Calls("POST /v1/invoice*") {
		if strings.HasPrefix(r.IdempotencyKey, form.Get("key")) {
			keys[r.IdempotencyKey]++
		}
	}
	if len(keys) != 2 {
		t.Errorf("Stripe got the keys %v, want the invoice's and its one item's", keys)
	}
	for k, n := range keys {
		if n != 1 {
			t.Errorf("key %s reached Stripe %d times", k, n)
		}
	}
	for i := range locations {
		if locations[i] != locations[0] || locations[i] == "" {
			t.Errorf("tabs went to %v, want one invoice", locations)
			break
		}
	}
	if n := e.auditCount("invoice.create"); n != 2 {
		t.Errorf("%d audit rows after the second form, want 2", n)
	}
}

func TestInvoiceCreateRefusedBeforeStripe(t *testing.T) {
	e := newInvoiceEnv(t)
	billing := e.mustLogin(store.RoleBilling)
	form := with(e.openInvoiceForm(billing), "step", "create", "line-0-description", "Consulting", "line-0-unit_amount", "100")
	yesterday := time.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	many := with(form)
	for i := range 51 {
		many.Set(fmt.Sprintf("line-%d-description", i), "Item")
		many.Set(fmt.Sprintf("line-%d-quantity", i), "1")
		many.Set(fmt.Sprintf("line-%d-unit_amount", i), "1")
	}
	cases := []struct {
		name        string
		form        url.Values
		field, want string
	}{
		{"no lines", with(form, "line-0-description", "", "line-0-unit_amount", ""), "error-lines", "at least one line"},
		{"a bad amount", with(form, "line-0-unit_amount", "12,5x"), "error-line-0-unit_amount", "as a number"},
		{"a negative amount", with(form, "line-0-unit_amount", "-5"), "error-line-0-unit_amount", "cannot be negative"},
		{"too many decimals", with(form, "line-0-unit_amount", "10.001"), "error-line-0-unit_amount", "EUR has 2 decimal places"},
		{"decimals on yen", with(form, "currency", "jpy", "line-0-unit_amount", "100.5"), "error-line-0-unit_amount", "JPY has no decimals"},
		{"a line without a description", with(form, "line-0-description", ""), "error-line-0-description", "Describe"},
		{"quantity zero", with(form, "line-0-quantity", "0"), "error-line-0-quantity", "whole number from 1"},
		{"a line too large", with(form, "line-0-quantity", "1000", "line-0-unit_amount", "9999999999"), "error-line-0-unit_amount", "most one line"},
		{"too many lines", many, "error-lines", "at most 50 lines"},
		{"a due date in the past", with(form, "due_days", "", "due_date", yesterday), "error-due", "in the past"},
		{"a due date not a date", with(form, "due_days", "", "due_date", "31/12/2030"), "error-due", "YYYY-MM-DD"},
		{"both days and a date", with(form, "due_date", time.Now().AddDate(0, 1, 0).Format(time.DateOnly)), "error-due", "not both"},
		{"no due date", with(form, "due_days", ""), "error-due", "Say when"},
		{"zero days", with(form, "due_days", "0"), "error-due", "from 1 to"},
		{"a bad currency", with(form, "currency", "euro"), "error-currency", "three-letter code"},
		{"no collection", with(form, "collection", "later"), "error-collection", "Choose how"},
		{"a memo too long", with(form, "memo", strings.Repeat("m", 501)), "error-memo", "under 500"},
	}
	for _, tc := range cases {
		rec, doc := e.postDoc(billing, "/customers/cus_inv1/invoices", tc.form)
		if rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", tc.name, rec.Code)
		}
		if got := doc.Find(`[data-testid="` + tc.field + `"]`).Text(); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %s says %q, want %q", tc.name, tc.field, got, tc.want)
		}
		// The form comes back with what was typed and the same key.
		if back := formValues(doc.Find(`[data-testid="invoice-create-form"]`)); back.Get("key") != form.Get("key") {
			t.Errorf("%s: the form came back with key %q", tc.name, back.Get("key"))
		}
	}
	// A charge_automatically invoice needs no due date.
	ok := with(form, "collection", "charge_automatically", "due_days", "", "due_date", yesterday, "line-0-unit_amount", "10.001")
	if _, doc := e.postDoc(billing, "/customers/cus_inv1/invoices", ok); doc.Find(`[data-testid="error-due"]`).Length() != 0 {
		t.Errorf("a charged invoice was asked for a due date")
	}
	// More lines: the form again with five more empty rows, nothing sent.
	rec, doc := e.postDoc(billing, "/customers/cus_inv1/invoices", with(form, "step", "more"))
	if n := doc.Find(`[data-testid="invoice-line-input"]`).Length(); rec.Code != http.StatusOK || n != 10 {
		t.Errorf("more lines: %d with %d rows, want 200 with 10", rec.Code, n)
	}

	// An unknown customer, a form paydesk did not make, a post without a
	// step, and a role below billing.
	if rec := e.do(http.MethodPost, "/customers/cus_nobody/invoices", form, billing); rec.Code != http.StatusNotFound {
		t.Errorf("unknown customer: %d, want 404", rec.Code)
	}
	if rec := e.do(http.MethodGet, "/customers/cus_nobody/invoices/new", nil, billing); rec.Code != http.StatusNotFound {
		t.Errorf("unknown customer's form: %d, want 404", rec.Code)
	}
	if rec := e.do(http.MethodPost, "/customers/cus_inv1/invoices", with(form, "key", "paydesk-invoice-create-forged"), billing); rec.Code != http.StatusBadRequest {
		t.Errorf("a forged key: %d, want 400", rec.Code)
	}
	if rec := e.do(http.MethodPost, "/customers/cus_inv1/invoices", with(form, "step", ""), billing); rec.Code != http.StatusBadRequest {
		t.Errorf("no step: %d, want 400", rec.Code)
	}
	if rec := e.do(http.MethodPost, "/customers/cus_inv1/invoices", form, e.mustLogin(store.RoleSupport)); rec.Code != http.StatusForbidden {
		t.Errorf("support: %d, want 403", rec.Code)
	}
	if n := len(e.stripe.Requests()); n != 0 {
		t.Errorf("%d requests reached Stripe, want none", n)
	}
	if n := e.auditCount("invoice.create"); n != 0 {
		t.Errorf("%d audit rows for refused forms, want none", n)
	}
	if n := count(e.t, e.st, `SELECT count(*) FROM invoices`); n != 0 {
		t.Errorf("%d invoices in the mirror, want none", n)
	}
}

// invoiceStates are the states the action tests put invoices in, with the
// actions Stripe allows in each.
var invoiceStates = []struct {
	name, status, collection string
	deleted                  bool
	allowed                  []string
}{
	{"draft", "draft", "send_invoice", false, []string{"finalize", "delete"}},
	{"open_sent", "open", "send_invoice", false, []string{"send", "pay", "mark-uncollectible", "void"}},
	{"open_charged", "open", "charge_automatically", false, []string{"pay", "mark-uncollectible", "void"}},
	{"uncollectible", "uncollectible", "send_invoice", false, []string{"void"}},
	{"paid", "paid", "charge_automatically", false, nil},
	{"void", "void", "send_invoice", false, nil},
	{"deleted", "draft", "send_invoice", true, nil},
}

var allInvoiceActions = []string{"finalize", "send", "pay", "mark-uncollectible", "void", "delete"}

// stripePath is the request an action makes of Stripe.
func stripePath(action, id string) (method, path string) {
	switch action {
	case "delete":
		return http.MethodDelete, "/v1/invoices/" + id
	case "mark-uncollectible":
		return http.MethodPost, "/v1/invoices/" + id + "/mark_uncollectible"
	}
	return http.MethodPost, "/v1/invoices/" + id + "/" + action
}

func TestInvoiceActionsByState(t *testing.T) {
	e := newInvoiceEnv(t)
	billing := e.mustLogin(store.RoleBilling)
	for _, st := range invoiceStates {
		for _, action := range allInvoiceActions {
			id := "in_" + st.name + "_" + strings.ReplaceAll(action, "-", "_")
			e.putInvoice(id, st.status, st.collection, st.deleted)
			allowed := false
			for _, a := range st.allowed {
				allowed = allowed || a == action
			}
			doc := e.parsedPage(billing, "/invoices/"+id, http.StatusOK)
			if got := strings.Join(offeredActions(doc), " "); got != strings.Join(st.allowed, " ") {
				t.Errorf("%s: the page offers %q, want %q", st.name, got, strings.Join(st.allowed, " "))
			}
			if !allowed {
				// Posted anyway (an old page, a crafted post): refused
				// with 409 before Stripe, whatever the key.
				for _, step := range []string{"review", "confirm"} {
					rec, doc := e.postDoc(billing, "/invoices/"+id+"/"+action, url.Values{"key": {"paydesk-invoice-x"}, "step": {step}, "pay": {"charge"}})
					msg := doc.Find(`[data-testid="invoice-action-unavailable"]`).Text()
					if rec.Code != http.StatusConflict || msg == "" {
						t.Errorf("%s %s (%s): %d %q, want 409 with a reason", st.name, action, step, rec.Code, msg)
					}
				}
				continue
			}
			e.runAction(billing, id, action, "charge")
		}
	}
	// Every allowed pair made one request and left one audit row; the
	// refused ones none.
	var done int
	for _, st := range invoiceStates {
		done += len(st.allowed)
	}
	if n := count(e.t, e.st, `SELECT count(*) FROM audit_log WHERE action LIKE 'invoice.%' AND outcome = 'ok'`); n != done {
		t.Errorf("%d audit rows, want %d", n, done)
	}
	if n := count(e.t, e.st, `SELECT count(*) FROM audit_log WHERE action LIKE 'invoice.%'`); n != done {
		t.Errorf("%d audit rows in all, want %d", n, done)
	}
	if n := len(e.stripe.Requests()); n != done {
		t.Errorf("Stripe got %d requests, want %d", n, done)
	}
}

// runAction carries an action out as a person does from the invoice page
// (with the confirmation step where there is one) and checks what Stripe
// got and what the mirror and the audit log hold after.
func (e *invoiceEnv) runAction(cookie *http.Cookie, id, action, payMode string) {
	e.t.Helper()
	t := e.t
	button := e.actionButton(cookie, id, action)
	before := len(e.stripe.Requests())
	start := time.Now().Unix()
	form := button
	if button.Get("step") == "review" {
		rec, doc := e.postDoc(cookie, "/invoices/"+id+"/"+action, button)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s %s review: %d\n%s", id, action, rec.Code, rec.Body)
		}
		if len(e.stripe.Requests()) != before {
			t.Fatalf("%s %s: the confirmation step called Stripe", id, action)
		}
		if got := doc.Find(`[data-testid="action-remaining"]`).Text(); got != "€42.00" {
			t.Errorf("%s %s: the confirmation shows %q remaining", id, action, got)
		}
		form = formValues(doc.Find(`[data-testid="invoice-action-confirm-form"]`))
		if action == "pay" {
			form.Set("pay", payMode)
		}
	}
	rec := e.do(http.MethodPost, "/invoices/"+id+"/"+action, form, cookie)
	if want := "/invoices/" + id + "?done=" + action; rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != want {
		t.Fatalf("%s %s: %d %q, want a redirect to %s\n%s", id, action, rec.Code, rec.Header().Get("Location"), want, rec.Body)
	}
	method, path := stripePath(action, id)
	calls := e.stripe.Calls(method + " " + path + "*")
	wantKey := button.Get("key")
	if action == "pay" {
		wantKey += "-" + payMode
	}
	if len(calls) != 1 || calls[0].Path != path || calls[0].IdempotencyKey != wantKey {
		t.Fatalf("%s %s: Stripe got %+v, want one %s %s under %q", id, action, calls, method, path, wantKey)
	}
	if action == "pay" && calls[0].Form.Get("paid_out_of_band") != map[string]string{"charge": "", "out_of_band": "true"}[payMode] {
		t.Errorf("pay %s: paid_out_of_band = %q", payMode, calls[0].Form.Get("paid_out_of_band"))
	}
	in := e.invoice(id)
	switch {
	case action == "delete":
		if !in.Deleted {
			t.Errorf("%s: not marked deleted after the deletion", id)
		}
	case in.Version < start || in.Status == nil || *in.Status != "draft" || in.Total != 1000:
		// stripe-mock answers every action with its draft fixture of
		// 10.00; the mirror holds what Stripe answered.
		t.Errorf("%s %s: mirror holds status %v total %d version %d, want Stripe's answer", id, action, in.Status, in.Total, in.Version)
	}
	var n int
	if err := e.st.DB().GetContext(context.Background(), &n, `SELECT count(*) FROM audit_log WHERE target = $1
		AND action = $2 AND outcome = 'ok' AND stripe_request_id <> ''`, "invoice:"+id,
		"invoice."+strings.ReplaceAll(action, "-", "_")); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%s %s: %d audit rows, want 1", id, action, n)
	}
	page := e.parsedPage(cookie, rec.Header().Get("Location"), http.StatusOK)
	if page.Find(`[data-testid="flash"]`).Text() == "" {
		t.Errorf("%s %s: no flash", id, action)
	}
}

func TestInvoicePayOutOfBand(t *testing.T) {
	e := newInvoiceEnv(t)
	e.putInvoice("in_oob", "open", "send_invoice", false)
	e.runAction(e.mustLogin(store.RoleBilling), "in_oob", "pay", "out_of_band")
	// No choice made: refused before Stripe.
	e.putInvoice("in_nochoice", "open", "send_invoice", false)
	billing := e.mustLogin(store.RoleBilling)
	form := e.actionButton(billing, "in_nochoice", "pay")
	rec, doc := e.postDoc(billing, "/invoices/in_nochoice/pay", with(form, "step", "confirm"))
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(doc.Find(`[data-testid="invoice-action-error"]`).Text(), "Choose how") {
		t.Errorf("pay without a choice: %d\n%s", rec.Code, doc.Find("main").Text())
	}
	if n := len(e.stripe.Calls("POST /v1/invoices/in_nochoice*")); n != 0 {
		t.Errorf("pay without a choice reached Stripe")
	}
}

func TestInvoiceActionDoubleSubmission(t *testing.T) {
	e := newInvoiceEnv(t)
	billing := e.mustLogin(store.RoleBilling)

	// Sequential: finalize posted twice from the same page.
	e.putInvoice("in_twice", "draft", "send_invoice", false)
	form := e.actionButton(billing, "in_twice", "finalize")
	first := e.do(http.MethodPost, "/invoices/in_twice/finalize", form, billing)
	second := e.do(http.MethodPost, "/invoices/in_twice/finalize", form, billing)
	if first.Code != http.StatusSeeOther || second.Code != http.StatusSeeOther {
		t.Fatalf("posts answered %d and %d", first.Code, second.Code)
	}
	if loc := second.Header().Get("Location"); loc != "/invoices/in_twice?again=1&done=finalize" {
		t.Errorf("the second post went to %q", loc)
	}
	if flash := e.parsedPage(billing, second.Header().Get("Location"), http.StatusOK).Find(`[data-testid="flash"]`).Text(); !strings.Contains(flash, "nothing was done again") {
		t.Errorf("flash after the second post: %q", flash)
	}
	if n := len(e.stripe.Calls("POST /v1/invoices/in_twice/finalize*")); n != 1 {
		t.Errorf("%d finalize requests reached Stripe, want 1", n)
	}
	if n := e.auditCount("invoice.finalize"); n != 1 {
		t.Errorf("%d audit rows, want 1", n)
	}

	// Concurrent: one void confirmed from many tabs at once.
	e.putInvoice("in_tabs", "open", "send_invoice", false)
	button := e.actionButton(billing, "in_tabs", "void")
	_, doc := e.postDoc(billing, "/invoices/in_tabs/void", button)
	confirm := formValues(doc.Find(`[data-testid="invoice-action-confirm-form"]`))
	e.stripe.Delay("/v1/invoice*", 500*time.Millisecond)
	const tabs = 8
	codes := make([]int, tabs)
	var wg sync.WaitGroup
	for i := range tabs {
		wg.Go(func() { codes[i] = e.do(http.MethodPost, "/invoices/in_tabs/void", confirm, billing).Code })
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusSeeOther {
			t.Errorf("tab %d: %d", i, code)
		}
	}
	calls := e.stripe.Calls("POST /v1/invoices/in_tabs/void*")
	if len(calls) != 1 || calls[0].IdempotencyKey != button.Get("key") {
		t.Errorf("Stripe got %+v, want the form's key once", calls)
	}
	if n := e.auditCount("invoice.void"); n != 1 {
		t.Errorf("%d void audit rows, want 1", n)
	}
}

func TestInvoiceActionStaleForm(t *testing.T) {
	e := newInvoiceEnv(t)
	billing := e.mustLogin(store.RoleBilling)
	e.putInvoice("in_stale", "open", "send_invoice", false)
	_, doc := e.postDoc(billing, "/invoices/in_stale/void", e.actionButton(billing, "in_stale", "void"))
	confirm := formValues(doc.Find(`[data-testid="invoice-action-confirm-form"]`))
	// Meanwhile a webhook brings a newer state of the invoice: paid in
	// part, still open.
	if _, err := e.st.UpsertInvoices(context.Background(), []store.Invoice{{ID: "in_stale", Customer: ptr("cus_inv1"),
		Status: ptr("open"), CollectionMethod: ptr("send_invoice"), Currency: "eur", Total: 4200, AmountDue: 4200,
		AmountPaid: 1000, AmountRemaining: 3200, Created: time.Unix(1_700_000_200, 0), Data: json.RawMessage(`{}`), Version: 20}}); err != nil {
		t.Fatal(err)
	}
	rec, doc := e.postDoc(billing, "/invoices/in_stale/void", confirm)
	if rec.Code != http.StatusConflict || !strings.Contains(doc.Find(`[data-testid="invoice-action-error"]`).Text(), "€32.00 remaining") {
		t.Errorf("stale form: %d %q", rec.Code, doc.Find(`[data-testid="invoice-action-error"]`).Text())
	}
	fresh := formValues(doc.Find(`[data-testid="invoice-action-confirm-form"]`))
	if fresh.Get("key") == "" || fresh.Get("key") == confirm.Get("key") {
		t.Errorf("the stale form came back with key %q", fresh.Get("key"))
	}
	if len(e.stripe.Requests()) != 0 || e.auditCount("invoice.void") != 0 {
		t.Errorf("a stale form reached Stripe or the audit log")
	}
	// Confirmed again with today's key, it is carried out.
	if rec := e.do(http.MethodPost, "/invoices/in_stale/void", fresh, billing); rec.Code != http.StatusSeeOther {
		t.Errorf("confirmed again: %d", rec.Code)
	}
}

func TestInvoiceActionStripeRefusal(t *testing.T) {
	e := newInvoiceEnv(t)
	billing := e.mustLogin(store.RoleBilling)
	e.putInvoice("in_refused", "draft", "send_invoice", false)
	form := e.actionButton(billing, "in_refused", "finalize")
	e.stripe.Refuse("POST /v1/invoice*", 400, `{"error":{"type":"invalid_request_error","code":"invoice_no_customer_line_items","message":"Nothing to invoice."}}`)
	rec, doc := e.postDoc(billing, "/invoices/in_refused/finalize", form)
	if rec.Code != http.StatusConflict || !strings.Contains(doc.Find(`[data-testid="invoice-action-error"]`).Text(), "no lines to bill") {
		t.Errorf("refused: %d %q", rec.Code, doc.Find(`[data-testid="invoice-action-error"]`).Text())
	}
	if key := formValues(doc.Find(`[data-testid="invoice-action-confirm-form"]`)).Get("key"); key != form.Get("key") {
		t.Errorf("the refused form came back with key %q, want %q", key, form.Get("key"))
	}
	if in := e.invoice("in_refused"); in.Version != 10 || *in.Status != "draft" {
		t.Errorf("the mirror changed after a refusal: %+v", in)
	}
	if n := count(e.t, e.st, `SELECT count(*) FROM audit_log WHERE action = 'invoice.finalize' AND outcome = 'failed' AND stripe_request_id = 'req_refused'`); n != 1 {
		t.Errorf("%d failed audit rows with Stripe's request id, want 1", n)
	}
	// Once Stripe accepts, the same form goes through under the same key.
	e.stripe.Refuse("POST /v1/invoice*", 0, "")
	if rec := e.do(http.MethodPost, "/invoices/in_refused/finalize", form, billing); rec.Code != http.StatusSeeOther {
		t.Fatalf("after the refusal: %d\n%s", rec.Code, rec.Body)
	}
	calls := e.stripe.Calls("POST /v1/invoices/in_refused/finalize*")
	if len(calls) != 2 || calls[0].IdempotencyKey != calls[1].IdempotencyKey {
		t.Errorf("Stripe got %+v, want the same key twice", calls)
	}
	if n := e.auditCount("invoice.finalize"); n != 2 {
		t.Errorf("%d audit rows, want the refusal's and the success's", n)
	}

	// A refused creation: nothing in the mirror, one failed audit row, and
	// the form back with its values.
	e.stripe.Refuse("POST /v1/invoice*", 402, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such customer."}}`)
	create := with(e.openInvoiceForm(billing), "step", "create", "line-0-description", "Audit", "line-0-unit_amount", "5")
	rec, doc = e.postDoc(billing, "/customers/cus_inv1/invoices", create)
	if rec.Code != http.StatusConflict || !strings.Contains(doc.Find(`[data-testid="invoice-create-error"]`).Text(), "does not know this customer") {
		t.Errorf("refused creation: %d %q", rec.Code, doc.Find(`[data-testid="invoice-create-error"]`).Text())
	}
	if v := formValues(doc.Find(`[data-testid="invoice-create-form"]`)); v.Get("line-0-description") != "Audit" || v.Get("key") != create.Get("key") {
		t.Errorf("the refused form came back as %v", v)
	}
	if n := count(e.t, e.st, `SELECT count(*) FROM invoices WHERE id <> 'in_refused'`); n != 0 {
		t.Errorf("%d invoices stored after a refused creation", n)
	}
	if n := count(e.t, e.st, `SELECT count(*) FROM audit_log WHERE action = 'invoice.create' AND outcome = 'failed'`); n != 1 {
		t.Errorf("%d failed creation audit rows, want 1", n)
	}
}

func TestInvoiceActionRoles(t *testing.T) {
	e := newInvoiceEnv(t)
	e.putInvoice("in_roles", "open", "send_invoice", false)
	billing := e.mustLogin(store.RoleBilling)
	form := e.actionButton(billing, "in_roles", "send")
	for _, role := range []store.Role{store.RoleViewer, store.RoleSupport} {
		cookie := e.mustLogin(role)
		if n := len(offeredActions(e.parsedPage(cookie, "/invoices/in_roles", http.StatusOK))); n != 0 {
			t.Errorf("%s is offered %d invoice actions", role, n)
		}
		for _, action := range allInvoiceActions {
			if rec := e.do(http.MethodPost, "/invoices/in_roles/"+action, form, cookie); rec.Code != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403", role, action, rec.Code)
			}
		}
	}
	if len(e.stripe.Requests()) != 0 || count(e.t, e.st, `SELECT count(*) FROM audit_log WHERE action LIKE 'invoice.%'`) != 0 {
		t.Errorf("a refused role reached Stripe or the audit log")
	}
	// Admins may.
	if rec := e.do(http.MethodPost, "/invoices/in_roles/send", form, e.mustLogin(store.RoleAdmin)); rec.Code != http.StatusSeeOther {
		t.Errorf("admin send: %d", rec.Code)
	}
}
