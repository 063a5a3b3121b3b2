package handlers_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
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

// orderEnv is a staff server with the purchase intake reaching stripe-mock
// through a stripemock.Recorder, and one API token made through the admin page.
type orderEnv struct {
	*staffEnv
	stripe *stripemock.Recorder
	admin  *http.Cookie
	token  string
}

func newOrderEnv(t *testing.T) *orderEnv {
	t.Helper()
	rec, api := startStripeRecorder(t)
	e := &orderEnv{staffEnv: newStaffEnv(t, handlers.Config{Customers: api.Customers, Invoices: api.Invoices}), stripe: rec}
	e.admin = e.mustLogin(store.RoleAdmin)
	e.token = e.createToken("webshop")
	return e
}

// createToken makes a token on the admin page and reads it off the page.
func (e *orderEnv) createToken(name string) string {
	e.t.Helper()
	rec := e.do(http.MethodPost, "/admin/tokens", url.Values{"name": {name}}, e.admin)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("create token: %d\n%s", rec.Code, rec.Body)
	}
	doc := mustParse(e.t, rec.Body.String())
	token := strings.TrimSpace(doc.Find(`[data-testid="one-time-token-value"]`).Text())
	if !strings.HasPrefix(token, "pdk_") || len(token) < 40 {
		e.t.Fatalf("token shown as %q", token)
	}
	return token
}

// send posts body to the intake with the token (none when "").
func (e *orderEnv) send(token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	// A shop's server is cross-origin as far as a browser check goes.
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://shop.example")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

type orderAnswer struct {
	OrderID          string `json:"order_id"`
	InvoiceID        string `json:"invoice_id"`
	Status           string `json:"status"`
	HostedInvoiceURL string `json:"hosted_invoice_url"`
	CustomerID       string `json:"customer_id"`
	CustomerCreated  bool   `json:"customer_created"`
	Total            int64  `json:"total"`
	Currency         string `json:"currency"`
	Collection       string `json:"collection"`
	PaymentError     string `json:"payment_error"`
}

type problemBody struct {
	Type, Title, Detail string
	Status              int
	Errors              []struct{ Field, Detail string }
}

func decodeJSON[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", rec.Code, err, rec.Body)
	}
	return v
}

func orderBody(id, email, collection string, extra ...string) string {
	b := `{"order_id":"` + id + `","customer":{"email":"` + email + `","name":"Zoë <b>Shop</b>"},` +
		`"items":[{"description":"Tea","quantity":2,"unit_amount":1250},{"description":"Cup","quantity":1,"unit_amount":800}],` +
		`"currency":"USD","collection":"` + collection + `"`
	for _, x := range extra {
		b += "," + x
	}
	return b + "}"
}

func TestOrderCollectionModes(t *testing.T) {
	e := newOrderEnv(t)
	// A customer the mirror knows: found by email, not created.
	if _, err := e.st.UpsertCustomers(context.Background(), []store.Customer{{ID: "cus_known", Email: ptr("known@example.com"),
		Created: time.Unix(1_700_000_000, 0), Data: json.RawMessage(`{}`), Version: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		collection, email string
		extra             []string
		// the invoice steps Stripe must see, by path suffix
		steps []string
	}{
		{"draft", "new-draft@example.com", nil, nil},
		{"finalize", "known@example.com", nil, []string{"/finalize"}},
		{"send", "KNOWN@example.com", []string{`"days_until_due":14`}, []string{"/finalize", "/send"}},
		{"charge", "new-charge@example.com", nil, []string{"/finalize", "/pay"}},
	} {
		e.stripe.Reset()
		id := "order-" + tc.collection
		rec := e.send(e.token, orderBody(id, tc.email, tc.collection, tc.extra...))
		if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s\n%s", tc.collection, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		a := decodeJSON[orderAnswer](t, rec)
		if a.OrderID != id || !strings.HasPrefix(a.InvoiceID, "in_") || a.Status == "" || a.CustomerID == "" || a.Collection != tc.collection {
			t.Errorf("%s: answer %+v", tc.collection, a)
		}
		if rec.Header().Get("Location") != "/invoices/"+a.InvoiceID {
			t.Errorf("%s: Location %q", tc.collection, rec.Header().Get("Location"))
		}
		known := strings.EqualFold(tc.email, "known@example.com")
		customers := e.stripe.Calls("POST /v1/customers")
		switch {
		case known && (len(customers) != 0 || a.CustomerID != "cus_known" || a.CustomerCreated):
			t.Errorf("%s: a known customer was created (%d) or not used (%s)", tc.collection, len(customers), a.CustomerID)
		case !known && (len(customers) != 1 || customers[0].IdempotencyKey != "paydesk-order-"+id+"-customer" ||
			customers[0].Form.Get("email") != tc.email || !a.CustomerCreated):
			t.Errorf("%s: customer requests %+v", tc.collection, customers)
		}
		invoices := e.stripe.Calls("POST /v1/invoices")
		if len(invoices) != 1 || invoices[0].IdempotencyKey != "paydesk-order-"+id+"-invoice" {
			t.Fatalf("%s: invoice requests %+v", tc.collection, invoices)
		}
		f := invoices[0].Form
		wantMethod := "send_invoice"
		if tc.collection == "charge" {
			wantMethod = "charge_automatically"
		}
		if f.Get("collection_method") != wantMethod || f.Get("currency") != "usd" || f.Get("metadata[paydesk_order_id]") != id {
			t.Errorf("%s: invoice created with %v", tc.collection, f)
		}
		if tc.collection == "send" && f.Get("days_until_due") != "14" {
			t.Errorf("send: days_until_due %q", f.Get("days_until_due"))
		}
		items := e.stripe.Calls("POST /v1/invoiceitems")
		if len(items) != 2 || items[0].Form.Get("unit_amount") != "1250" || items[0].Form.Get("quantity") != "2" ||
			items[1].Form.Get("description") != "Cup" || items[1].IdempotencyKey != "paydesk-order-"+id+"-item-2" {
			t.Errorf("%s: items %+v", tc.collection, items)
		}
		for _, step := range []string{"/finalize", "/send", "/pay"} {
			calls := e.stripe.Calls("POST *" + step)
			want := slices.Contains(tc.steps, step)
			if want && (len(calls) != 1 || calls[0].IdempotencyKey != "paydesk-order-"+id+"-"+strings.TrimPrefix(step, "/")) ||
				!want && len(calls) != 0 {
				t.Errorf("%s: %s requests %+v", tc.collection, step, calls)
			}
		}
		// Written through, recorded, audited once under the token's name.
		if n := count(t, e.st, `SELECT count(*) FROM invoices WHERE id = $1`, a.InvoiceID); n != 1 {
			t.Errorf("%s: invoice not in the mirror", tc.collection)
		}
		if !known {
			if n := count(t, e.st, `SELECT count(*) FROM customers WHERE id = $1`, a.CustomerID); n != 1 {
				t.Errorf("%s: created customer not in the mirror", tc.collection)
			}
		}
		var o store.Order
		if err := e.st.DB().GetContext(context.Background(), &o, `SELECT order_id, token_id, request_hash, status, invoice_id,
			customer_id, coalesce(response, 'null') AS response, error, attempts, created_at, started_at, finished_at FROM orders WHERE order_id = $1`, id); err != nil {
			t.Fatal(err)
		}
		if o.Status != store.ActionDone || textOf(o.InvoiceID) != a.InvoiceID {
			t.Errorf("%s: order row %+v", tc.collection, o)
		}
		var audit struct {
			Actor, Outcome string
			Params         json.RawMessage
		}
		if err := e.st.DB().GetContext(context.Background(), &audit, `SELECT actor, outcome, params FROM audit_log
			WHERE action = 'order.invoice' AND target = $1`, "order:"+id); err != nil {
			t.Fatalf("%s: audit row: %v", tc.collection, err)
		}
		if audit.Actor != "webshop" || audit.Outcome != "ok" || !strings.Contains(string(audit.Params), `"invoice": "`+a.InvoiceID+`"`) ||
			!strings.Contains(string(audit.Params), `"total": 3300`) {
			t.Errorf("%s: audit %+v %s", tc.collection, audit, audit.Params)
		}
	}
	if n := count(t, e.st, `SELECT count(*) FROM audit_log WHERE action = 'order.invoice'`); n != 4 {
		t.Errorf("%d audit rows, want 4", n)
	}
}

func TestOrderValidation(t *testing.T) {
	e := newOrderEnv(t)
	valid := orderBody("o-1", "a@example.com", "send")
	for _, tc := range []struct {
		name, body string
		status     int
		fields     []string
	}{
		{"not JSON", `{"order_id":`, 400, []string{""}},
		{"unknown field", strings.Replace(valid, `"currency"`, `"coupon":"x","currency"`, 1), 400, []string{"coupon"}},
		{"unknown item field", strings.Replace(valid, `"description":"Cup"`, `"description":"Cup","sku":1`, 1), 400, []string{"items[1].sku"}},
		{"quantity as text", strings.Replace(valid, `"quantity":1`, `"quantity":"1"`, 1), 400, []string{"items[1].quantity"}},
		{"fractional amount", strings.Replace(valid, `"unit_amount":800`, `"unit_amount":8.5`, 1), 400, []string{"items[1].unit_amount"}},
		{"customer as text", strings.Replace(valid, `{"email":"a@example.com","name":"Zoë <b>Shop</b>"}`, `"a@example.com"`, 1), 400, []string{"customer"}},
		{"trailing data", valid + `{}`, 400, []string{""}},
		{"missing everything", `{}`, 422, []string{"order_id", "customer", "items", "currency", "collection"}},
		{"bad values", `{"order_id":"a b","customer":{"email":"nope"},"items":[{"description":"","quantity":0,"unit_amount":-1},` +
			`{"description":"ok","quantity":1,"unit_amount":1},{"description":"x","quantity":1}],"currency":"dollars","collection":"later"}`,
			422, []string{"order_id", "customer.email", "items[0].description", "items[0].quantity", "items[0].unit_amount",
				"items[2].unit_amount", "currency", "collection"}},
		{"days for charge", orderBody("o-2", "a@example.com", "charge", `"days_until_due":10`), 422, []string{"days_until_due"}},
		{"days out of range", orderBody("o-3", "a@example.com", "send", `"days_until_due":0`), 422, []string{"days_until_due"}},
		{"total too large", strings.Replace(valid, `"quantity":2,"unit_amount":1250`, `"quantity":1000,"unit_amount":99999999`, 1), 422, []string{"items"}},
	} {
		rec := e.send(e.token, tc.body)
		if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %q, want %d problem+json\n%s", tc.name, rec.Code, rec.Header().Get("Content-Type"), tc.status, rec.Body)
			continue
		}
		p := decodeJSON[problemBody](t, rec)
		var fields []string
		for _, fe := range p.Errors {
			fields = append(fields, fe.Field)
			if fe.Detail == "" {
				t.Errorf("%s: field %q without detail", tc.name, fe.Field)
			}
		}
		if !slices.Equal(fields, tc.fields) || p.Status != tc.status || p.Title == "" || p.Type == "" {
			t.Errorf("%s: problem %+v, want fields %q", tc.name, p, tc.fields)
		}
	}
	// Not JSON at all, and a body over the limit.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader("order_id=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+e.token)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("a form post: %d, want 415", rec.Code)
	}
	if rec := e.send(e.token, `{"order_id":"`+strings.Repeat("x", 300<<10)+`"}`); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a huge body: %d, want 413", rec.Code)
	}
	if n := len(e.stripe.Calls("POST *")); n != 0 {
		t.Errorf("%d requests reached Stripe for invalid orders", n)
	}
	if n := count(t, e.st, `SELECT count(*) FROM orders`) + count(t, e.st, `SELECT count(*) FROM audit_log WHERE action = 'order.invoice'`); n != 0 {
		t.Errorf("invalid orders left %d rows", n)
	}
}

func TestOrderTokens(t *testing.T) {
	e := newOrderEnv(t)
	body := orderBody("o-tok", "a@example.com", "draft")
	check := func(name string, rec *httptest.ResponseRecorder) {
		t.Helper()
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("Content-Type") != "application/problem+json" ||
			!strings.HasPrefix(rec.Header().Get("Www-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %q %q", name, rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Www-Authenticate"))
		}
	}
	check("no token", e.send("", body))
	check("wrong token", e.send("pdk_"+strings.Repeat("A", 43), body))
	check("a token's prefix only", e.send(e.token[:12], body))
	// An admin's session is not a token.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(e.admin)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	check("a session cookie", rec)

	// The token works, then is revoked on the admin page and refused.
	if rec := e.send(e.token, body); rec.Code != http.StatusCreated {
		t.Fatalf("live token: %d\n%s\n%s", rec.Code, rec.Body, e.logs)
	}
	var id int64
	if err := e.st.DB().GetContext(context.Background(), &id, `SELECT id FROM api_tokens WHERE name = 'webshop'`); err != nil {
		t.Fatal(err)
	}
	if rec := e.do(http.MethodPost, "/admin/tokens/"+itoa(id)+"/revoke", url.Values{}, e.admin); rec.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", rec.Code)
	}
	check("revoked token", e.send(e.token, body))
	if n := len(e.stripe.Calls("POST /v1/invoices")); n != 1 {
		t.Errorf("%d invoices made, want only the live token's", n)
	}
}

func TestTokenAdminPage(t *testing.T) {
	e := newOrderEnv(t)
	// Shown once: the page after creation holds it, the list never does.
	page := e.parsedPage(e.admin, "/admin/tokens", http.StatusOK)
	if strings.Contains(page.Text(), e.token) || page.Find(`[data-testid="one-time-token"]`).Length() != 0 {
		t.Errorf("the token list shows the token")
	}
	row := page.Find(`[data-testid="token-name"]:contains("webshop")`).Closest("tr")
	if prefix := row.Find(`[data-testid="token-prefix"]`).Text(); !strings.HasPrefix(e.token, strings.TrimSuffix(prefix, "…")) || len(prefix) < 12 {
		t.Errorf("prefix shown %q for %q", prefix, e.token[:12])
	}
	if got := row.Find(`[data-testid="token-last-used"]`).Text(); got != "never" {
		t.Errorf("last used %q", got)
	}
	// Hashed at rest: sha256 of the token, which appears in no column.
	hash := sha256.Sum256([]byte(e.token))
	if n := count(t, e.st, `SELECT count(*) FROM api_tokens WHERE token_hash = $1`, hash[:]); n != 1 {
		t.Errorf("no row holds the token's sha256")
	}
	if n := count(t, e.st, `SELECT count(*) FROM api_tokens t WHERE strpos(row_to_json(t)::text, $1) > 0`, e.token[12:]); n != 0 {
		t.Errorf("the token is stored in clear")
	}
	if n := count(t, e.st, `SELECT count(*) FROM audit_log WHERE strpos(params::text, $1) > 0`, e.token[12:]); n != 0 {
		t.Errorf("the token is in the audit log")
	}
	// Names are checked and unique.
	for name, want := range map[string]int{"webshop": http.StatusConflict, "WEBSHOP": http.StatusConflict,
		"ops@example.com": http.StatusUnprocessableEntity, "": http.StatusUnprocessableEntity} {
		if rec := e.do(http.MethodPost, "/admin/tokens", url.Values{"name": {name}}, e.admin); rec.Code != want {
			t.Errorf("name %q: %d, want %d", name, rec.Code, want)
		}
	}
	// Use shows; revoking twice writes one audit row.
	e.send(e.token, orderBody("o-page", "a@example.com", "draft"))
	var id int64
	if err := e.st.DB().GetContext(context.Background(), &id, `SELECT id FROM api_tokens WHERE name = 'webshop'`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		e.do(http.MethodPost, "/admin/tokens/"+itoa(id)+"/revoke", url.Values{}, e.admin)
	}
	row = e.parsedPage(e.admin, "/admin/tokens", http.StatusOK).Find(`[data-testid="token-row-` + itoa(id) + `"]`)
	if row.Find(`[data-testid="token-last-used"]`).Text() == "never" || !strings.Contains(row.Find(`[data-testid="token-status"]`).Text(), "Revoked") ||
		row.Find(`[data-testid="revoke-form"]`).Length() != 0 {
		t.Errorf("revoked row: %s", row.Text())
	}
	if c, r := e.auditCount("token.create"), e.auditCount("token.revoke"); c != 1 || r != 1 {
		t.Errorf("audit rows: %d token.create, %d token.revoke; want 1 and 1", c, r)
	}
	if rec := e.do(http.MethodPost, "/admin/tokens/999999/revoke", url.Values{}, e.admin); rec.Code != http.StatusNotFound {
		t.Errorf("revoke of no token: %d", rec.Code)
	}
	billing := e.mustLogin(store.RoleBilling)
	if rec := e.do(http.MethodPost, "/admin/tokens", url.Values{"name": {"sneaky"}}, billing); rec.Code != http.StatusForbidden {
		t.Errorf("billing creates a token: %d", rec.Code)
	}
}

func TestOrderIdempotency(t *testing.T) {
	e := newOrderEnv(t)
	body := orderBody("o-dup", "dup@example.com", "finalize")

	// Concurrent duplicates while Stripe is slow: one invoice.
	e.stripe.Delay("POST /v1/invoices", 400*time.Millisecond)
	const shops = 8
	recs := make([]*httptest.ResponseRecorder, shops)
	var wg sync.WaitGroup
	for i := range shops {
		wg.Go(func() { recs[i] = e.send(e.token, body) })
	}
	wg.Wait()
	e.stripe.Delay("POST /v1/invoices", 0)
	created, invoiceID := 0, ""
	for i, rec := range recs {
		switch rec.Code {
		case http.StatusCreated:
			created++
			invoiceID = decodeJSON[orderAnswer](t, rec).InvoiceID
		case http.StatusOK, http.StatusConflict:
		default:
			t.Errorf("shop %d: %d\n%s", i, rec.Code, rec.Body)
		}
	}
	if created != 1 {
		t.Fatalf("%d answers 201, want 1", created)
	}
	for i, rec := range recs {
		if rec.Code == http.StatusOK {
			if a := decodeJSON[orderAnswer](t, rec); a.InvoiceID != invoiceID || rec.Header().Get("Idempotent-Replayed") != "true" {
				t.Errorf("shop %d: replay %+v", i, a)
			}
		}
	}
	keys := map[string]int{}
	for _, r := range e.stripe.Calls("POST /v1/invoices") {
		keys[r.IdempotencyKey]++
	}
	if len(keys) != 1 || keys["paydesk-order-o-dup-invoice"] != 1 {
		t.Errorf("invoice creations by key %v, want one", keys)
	}
	if n := count(t, e.st, `SELECT count(*) FROM orders WHERE order_id = 'o-dup'`); n != 1 {
		t.Errorf("%d order rows", n)
	}
	if n := e.auditCount("order.invoice"); n != 1 {
		t.Errorf("%d audit rows, want 1", n)
	}

	// A retry later: the same answer, nothing sent.
	rec := e.send(e.token, strings.ReplaceAll(body, ",", ", "))
	if rec.Code != http.StatusOK || decodeJSON[orderAnswer](t, rec).InvoiceID != invoiceID {
		t.Errorf("retry: %d %s", rec.Code, rec.Body)
	}
	// The same order id for another purchase: refused.
	rec = e.send(e.token, strings.Replace(body, `"quantity":2`, `"quantity":3`, 1))
	if p := decodeJSON[problemBody](t, rec); rec.Code != http.StatusConflict || len(p.Errors) != 1 || p.Errors[0].Field != "order_id" {
		t.Errorf("reused order id: %d %+v", rec.Code, p)
	}
	if n := len(e.stripe.Calls("POST /v1/invoices")); n != 1 {
		t.Errorf("%d invoice creations after retries, want 1", n)
	}
}

func TestOrderStripeRefusals(t *testing.T) {
	e := newOrderEnv(t)
	// Stripe fails making the invoice: 502, the order failed with one
	// audit row, nothing in the mirror; the retry goes through under the
	// same keys.
	e.stripe.Refuse("POST /v1/invoices", 500, `{"error":{"type":"api_error","message":"boom"}}`)
	body := orderBody("o-fail", "fail@example.com", "send")
	rec := e.send(e.token, body)
	if p := decodeJSON[problemBody](t, rec); rec.Code != http.StatusBadGateway || !strings.Contains(p.Detail, "again is safe") {
		t.Errorf("Stripe 500: %d %+v", rec.Code, p)
	}
	if n := count(t, e.st, `SELECT count(*) FROM audit_log WHERE action = 'order.invoice' AND outcome = 'failed' AND stripe_request_id = 'req_refused'`); n != 1 {
		t.Errorf("%d failed audit rows, want 1", n)
	}
	if n := count(t, e.st, `SELECT count(*) FROM invoices`); n != 0 {
		t.Errorf("a failed order wrote %d invoices", n)
	}
	e.stripe.Refuse("POST /v1/invoices", 0, "")
	if rec := e.send(e.token, body); rec.Code != http.StatusCreated {
		t.Fatalf("retry: %d\n%s", rec.Code, rec.Body)
	}
	keys := map[string]bool{}
	for _, r := range e.stripe.Calls("POST /v1/invoices") {
		keys[r.IdempotencyKey] = true
	}
	if len(keys) != 1 {
		t.Errorf("the retry used new keys: %v", keys)
	}

	// A declined card: the invoice stands, open, and the answer says so.
	e.stripe.Refuse("POST */pay", 402,
		`{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`)
	rec = e.send(e.token, orderBody("o-declined", "fail@example.com", "charge"))
	if a := decodeJSON[orderAnswer](t, rec); rec.Code != http.StatusCreated || !strings.Contains(a.PaymentError, "insufficient funds") || a.InvoiceID == "" {
		t.Errorf("declined: %d %+v", rec.Code, a)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustParse(t *testing.T, html string) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
