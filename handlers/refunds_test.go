package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/stripeapi"
	"paydesk/stripeapi/stripemock"
)

// refundEnv is a staff server whose refunds reach stripe-mock through a
// stripemock.Recorder, with one refundable charge in the mirror.
type refundEnv struct {
	*staffEnv
	stripe *stripemock.Recorder
}

// newRefundEnv makes the env; each option may change the server's Config
// (dual approval's amounts, approvals_test.go).
func newRefundEnv(t *testing.T, options ...func(*handlers.Config)) *refundEnv {
	t.Helper()
	rec, api := startStripeRecorder(t)
	c := handlers.Config{Refunds: api.Refunds}
	for _, o := range options {
		o(&c)
	}
	e := &refundEnv{staffEnv: newStaffEnv(t, c), stripe: rec}
	e.putCharge("ch_refund1", "usd", 5000, 0)
	return e
}

// startStripeRecorder starts stripe-mock in strict version mode behind a
// stripemock.Recorder and returns a client whose every request goes
// through it. The refund tests refuse and delay "/v1/refunds*", the
// invoice tests "/v1/invoice*", the customer and order tests single paths.
func startStripeRecorder(t *testing.T) (*stripemock.Recorder, *stripeapi.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec, err := stripemock.StartRecorder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Close)
	api, err := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_123", APIBase: rec.URL})
	if err != nil {
		t.Fatal(err)
	}
	return rec, api
}

// putCharge stores a succeeded, captured charge of a customer.
func (e *refundEnv) putCharge(id, currency string, amount, refunded int64) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.st.UpsertCustomers(ctx, []store.Customer{{ID: "cus_refund1", Email: ptr("ada@example.com"),
		Name: ptr("Ada Lovelace"), Created: time.Unix(1_700_000_000, 0), Data: json.RawMessage(`{}`), Version: 1}}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.UpsertCharges(ctx, []store.Charge{{ID: id, Customer: ptr("cus_refund1"), Amount: amount,
		AmountCaptured: amount, AmountRefunded: refunded, Currency: currency, Status: "succeeded", Paid: true,
		Captured: true, Refunded: refunded >= amount, Created: time.Unix(1_700_000_100, 0),
		Data: json.RawMessage(`{"id":"` + id + `","object":"charge"}`), Version: 10}}); err != nil {
		e.t.Fatal(err)
	}
}

func ptr(s string) *string { return &s }

// openForm opens a charge's refund form and returns its fields.
func (e *refundEnv) openForm(cookie *http.Cookie, charge string) url.Values {
	e.t.Helper()
	doc := e.parsedPage(cookie, "/charges/"+charge+"/refund", http.StatusOK)
	form := doc.Find(`[data-testid="refund-form"]`)
	if form.Length() != 1 {
		e.t.Fatalf("no refund form on the page:\n%s", doc.Text())
	}
	return formValues(form)
}

// formValues reads a form's named inputs, selects and textareas.
func formValues(form *goquery.Selection) url.Values {
	v := url.Values{}
	form.Find("input[name], textarea[name]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		if s.Is("textarea") {
			v.Set(name, s.Text())
			return
		}
		val, _ := s.Attr("value")
		v.Set(name, val)
	})
	form.Find("select[name]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		val, _ := s.Find("option[selected]").Attr("value")
		v.Set(name, val)
	})
	return v
}

func (e *refundEnv) post(cookie *http.Cookie, charge string, form url.Values) (*httptest.ResponseRecorder, *goquery.Document) {
	e.t.Helper()
	rec := e.do(http.MethodPost, "/charges/"+charge+"/refunds", form, cookie)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
	if err != nil {
		e.t.Fatal(err)
	}
	return rec, doc
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func (e *refundEnv) charge(id string) store.Charge {
	e.t.Helper()
	d, err := e.st.ChargeDetail(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d.Charge
}

func (e *refundEnv) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.DB().GetContext(context.Background(), &n, query, args...); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestRefundFullFlow(t *testing.T) {
	e := newRefundEnv(t)
	support := e.mustLogin(store.RoleSupport)

	// The charge page offers the refund to support staff, not to viewers.
	page := e.parsedPage(support, "/charges/ch_refund1", http.StatusOK)
	if href, _ := page.Find(`[data-testid="charge-refund-link"]`).Attr("href"); href != "/charges/ch_refund1/refund" {
		t.Fatalf("refund link %q for support", href)
	}
	viewer := e.mustLogin(store.RoleViewer)
	if n := e.parsedPage(viewer, "/charges/ch_refund1", http.StatusOK).Find(`[data-testid="charge-refund-link"]`).Length(); n != 0 {
		t.Fatalf("a viewer is offered the refund")
	}

	form := e.openForm(support, "ch_refund1")
	if form.Get("amount") != "50.00" || form.Get("reason") != "requested_by_customer" || form.Get("key") == "" {
		t.Fatalf("form prefilled with %v, want the whole 50.00 and a key", form)
	}
	rec, doc := e.post(support, "ch_refund1", with(form, "note", "Customer called <b>twice</b> 🙂"))
	if rec.Code != http.StatusOK {
		t.Fatalf("review: %d\n%s", rec.Code, rec.Body)
	}
	confirm := doc.Find(`[data-testid="refund-confirm"]`)
	for id, want := range map[string]string{"confirm-amount": "$50.00", "confirm-currency": "USD",
		"confirm-customer": "Ada Lovelace", "confirm-note": "Customer called <b>twice</b> 🙂"} {
		if got := strings.TrimSpace(confirm.Find(`[data-testid="` + id + `"]`).Text()); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if doc.Find(`[data-testid="confirm-full"]`).Length() != 1 {
		t.Errorf("the confirmation does not say the refund is full")
	}
	if len(e.stripe.Calls("POST /v1/refunds")) != 0 {
		t.Fatalf("the review step called Stripe")
	}

	rec, _ = e.post(support, "ch_refund1", formValues(doc.Find(`[data-testid="refund-confirm-form"]`)))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/charges/ch_refund1?refunded=re_") {
		t.Fatalf("confirm: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	calls := e.stripe.Calls("POST /v1/refunds")
	if len(calls) != 1 || calls[0].IdempotencyKey != form.Get("key") {
		t.Fatalf("Stripe got %+v, want one refund under the form's key %q", calls, form.Get("key"))
	}
	if f := calls[0].Form; f.Get("charge") != "ch_refund1" || f.Get("amount") != "5000" || f.Get("reason") != "requested_by_customer" ||
		f.Get("metadata[note]") != "Customer called <b>twice</b> 🙂" || f.Get("metadata[paydesk_user]") != "support@example.com" {
		t.Errorf("Stripe got the refund %v", f)
	}

	// Written through before any webhook: the refund row, the charge's
	// figures, the flash on the charge page, one audit row.
	c := e.charge("ch_refund1")
	if c.AmountRefunded != 5000 || !c.Refunded {
		t.Errorf("charge after the refund: amount_refunded %d refunded %v", c.AmountRefunded, c.Refunded)
	}
	if n := e.count(`SELECT count(*) FROM refunds WHERE charge = 'ch_refund1' AND amount = 5000`); n != 1 {
		t.Errorf("%d refund rows, want 1", n)
	}
	var audit store.AuditRow
	if err := e.st.DB().GetContext(context.Background(), &audit, `SELECT id, at, actor_id, actor, action, target, params, outcome,
		stripe_request_id, remote_addr FROM audit_log WHERE action = 'refund.create'`); err != nil {
		t.Fatal(err)
	}
	if audit.Outcome != store.AuditOK || audit.Actor != "support@example.com" || *audit.Target != "charge:ch_refund1" ||
		audit.StripeRequestID == nil || *audit.StripeRequestID == "" || !strings.Contains(string(audit.Params), `"amount": 5000`) {
		t.Errorf("audit row %+v params %s", audit, audit.Params)
	}
	page = e.parsedPage(support, rec.Header().Get("Location"), http.StatusOK)
	if flash := page.Find(`[data-testid="flash"]`).Text(); !strings.Contains(flash, "was made") {
		t.Errorf("flash %q", flash)
	}
	if page.Find(`[data-testid="charge-refund-link"]`).Length() != 0 {
		t.Errorf("a fully refunded charge still offers a refund")
	}
	// Nothing is left: the form says so instead of offering one.
	doc = e.parsedPage(support, "/charges/ch_refund1/refund", http.StatusOK)
	if !strings.Contains(doc.Find(`[data-testid="refund-unavailable"]`).Text(), "Nothing is left") {
		t.Errorf("the form of a refunded charge: %s", doc.Find("main").Text())
	}
}

func TestRefundRefusedBeforeStripe(t *testing.T) {
	e := newRefundEnv(t)
	e.putCharge("ch_yen", "jpy", 1200, 200)
	support := e.mustLogin(store.RoleSupport)
	form := e.openForm(support, "ch_refund1")
	yen := e.openForm(support, "ch_yen")
	if yen.Get("amount") != "1000" {
		t.Fatalf("JPY form prefilled with %q, want 1000", yen.Get("amount"))
	}
	cases := []struct {
		name, charge string
		form         url.Values
		field, want  string
	}{
		{"above the refundable amount", "ch_refund1", with(form, "amount", "50.01"), "error-amount", "At most $50.00"},
		{"too many decimals", "ch_refund1", with(form, "amount", "10.001"), "error-amount", "2 decimal places"},
		{"zero", "ch_refund1", with(form, "amount", "0"), "error-amount", "more than zero"},
		{"negative", "ch_refund1", with(form, "amount", "-5"), "error-amount", "as a number"},
		{"not a number", "ch_refund1", with(form, "amount", "1e3"), "error-amount", "as a number"},
		{"empty", "ch_refund1", with(form, "amount", " "), "error-amount", "Enter the amount"},
		{"decimals on yen", "ch_yen", with(yen, "amount", "100.5"), "error-amount", "JPY has no decimals"},
		{"above what is left of a partly refunded charge", "ch_yen", with(yen, "amount", "1001"), "error-amount", "At most ¥1,000"},
		{"other without a note", "ch_refund1", with(form, "reason", "other", "note", " "), "error-note", "required"},
		{"unknown reason", "ch_refund1", with(form, "reason", "because"), "error-reason", "Choose"},
		{"a note too long", "ch_refund1", with(form, "note", strings.Repeat("n", 501)), "error-note", "under 500"},
	}
	for _, tc := range cases {
		for _, step := range []string{"review", "confirm"} {
			rec, doc := e.post(support, tc.charge, with(tc.form, "step", step))
			if rec.Code != http.StatusUnprocessableEntity {
				t.Errorf("%s (%s): %d, want 422", tc.name, step, rec.Code)
			}
			if got := doc.Find(`[data-testid="` + tc.field + `"]`).Text(); !strings.Contains(got, tc.want) {
				t.Errorf("%s (%s): %s says %q, want %q", tc.name, step, tc.field, got, tc.want)
			}
		}
	}
	// A form the server did not make, and a post with no step.
	if rec, _ := e.post(support, "ch_refund1", with(form, "step", "")); rec.Code != http.StatusBadRequest {
		t.Errorf("no step: %d", rec.Code)
	}
	if rec, _ := e.post(support, "ch_refund1", with(form, "key", "paydesk-refund-forged", "step", "confirm")); rec.Code != http.StatusConflict {
		t.Errorf("a key from no form: %d, want 409", rec.Code)
	}
	if n := len(e.stripe.Calls("POST /v1/refunds")); n != 0 {
		t.Errorf("%d refunds reached Stripe, want none", n)
	}
	if n := e.auditCount("refund.create"); n != 0 {
		t.Errorf("%d audit rows for refused input, want none", n)
	}
	if c := e.charge("ch_refund1"); c.AmountRefunded != 0 {
		t.Errorf("charge changed: %+v", c)
	}
	// Roles below support cannot post a refund at all.
	viewer := e.mustLogin(store.RoleViewer)
	if rec, _ := e.post(viewer, "ch_refund1", with(form, "step", "confirm")); rec.Code != http.StatusForbidden {
		t.Errorf("viewer: %d, want 403", rec.Code)
	}
}

func TestRefundDoubleSubmission(t *testing.T) {
	e := newRefundEnv(t)
	e.putCharge("ch_refund2", "usd", 8000, 0)
	support := e.mustLogin(store.RoleSupport)

	// Sequential: the same confirmation posted twice (a double click, a
	// browser retry); then the stale form once more after the state moved.
	form := with(e.openForm(support, "ch_refund1"), "amount", "20.00", "step", "confirm")
	first, _ := e.post(support, "ch_refund1", form)
	second, _ := e.post(support, "ch_refund1", form)
	if first.Code != http.StatusSeeOther || second.Code != http.StatusSeeOther {
		t.Fatalf("posts answered %d and %d", first.Code, second.Code)
	}
	if loc := second.Header().Get("Location"); !strings.Contains(loc, "again=1") || !strings.Contains(loc, "refunded=re_") {
		t.Errorf("the second post went to %q, want the first refund with again=1", loc)
	}
	if n := len(e.stripe.Calls("POST /v1/refunds")); n != 1 {
		t.Errorf("%d refund requests reached Stripe, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM refunds WHERE charge = 'ch_refund1'`); n != 1 {
		t.Errorf("%d refund rows, want 1", n)
	}
	if n := e.auditCount("refund.create"); n != 1 {
		t.Errorf("%d audit rows, want 1", n)
	}
	if c := e.charge("ch_refund1"); c.AmountRefunded != 2000 || c.Refunded {
		t.Errorf("charge: amount_refunded %d refunded %v, want 2000 and a partial refund", c.AmountRefunded, c.Refunded)
	}
	// A new form refunds again, with a new key, up to what is left.
	again := with(e.openForm(support, "ch_refund1"), "amount", "30.00", "step", "confirm")
	if again.Get("key") == form.Get("key") {
		t.Fatalf("the form after a refund has the same key")
	}
	if rec, _ := e.post(support, "ch_refund1", again); rec.Code != http.StatusSeeOther {
		t.Fatalf("second refund: %d\n%s", rec.Code, rec.Body)
	}
	if c := e.charge("ch_refund1"); c.AmountRefunded != 5000 || !c.Refunded {
		t.Errorf("charge after both: amount_refunded %d refunded %v", c.AmountRefunded, c.Refunded)
	}

	// Concurrent: one form confirmed from many tabs at once, all of them
	// in flight while Stripe takes its time to answer the first.
	form = with(e.openForm(support, "ch_refund2"), "amount", "80.00", "step", "confirm")
	e.stripe.Delay("/v1/refunds*", 500*time.Millisecond)
	const tabs = 8
	codes := make([]int, tabs)
	var wg sync.WaitGroup
	for i := range tabs {
		wg.Go(func() {
			rec := e.do(http.MethodPost, "/charges/ch_refund2/refunds", form, support)
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusSeeOther {
			t.Errorf("tab %d: %d", i, code)
		}
	}
	keys := map[string]int{}
	for _, r := range e.stripe.Calls("POST /v1/refunds") {
		if r.Form.Get("charge") == "ch_refund2" {
			keys[r.IdempotencyKey]++
		}
	}
	if len(keys) != 1 || keys[form.Get("key")] != 1 {
		t.Errorf("Stripe got %v, want the form's key once", keys)
	}
	if n := e.count(`SELECT count(*) FROM refunds WHERE charge = 'ch_refund2'`); n != 1 {
		t.Errorf("%d refund rows, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'refund.create' AND target = 'charge:ch_refund2'`); n != 1 {
		t.Errorf("%d audit rows, want 1", n)
	}
	if c := e.charge("ch_refund2"); c.AmountRefunded != 8000 {
		t.Errorf("amount_refunded %d, want 8000 (counted once)", c.AmountRefunded)
	}
}

func TestRefundStaleForm(t *testing.T) {
	e := newRefundEnv(t)
	support := e.mustLogin(store.RoleSupport)
	form := with(e.openForm(support, "ch_refund1"), "amount", "40.00", "step", "confirm")
	// Meanwhile a refund made elsewhere (Stripe's dashboard) arrives.
	e.putCharge("ch_refund1", "usd", 5000, 2000)
	rec, doc := e.post(support, "ch_refund1", form)
	if rec.Code != http.StatusConflict {
		t.Fatalf("stale form: %d, want 409", rec.Code)
	}
	if msg := doc.Find(`[data-testid="refund-error"]`).Text(); !strings.Contains(msg, "changed since the form was opened") {
		t.Errorf("stale form says %q", msg)
	}
	// The form is shown again with today's figures and key.
	fresh := formValues(doc.Find(`[data-testid="refund-form"]`))
	if fresh.Get("key") == form.Get("key") || fresh.Get("amount") != "40.00" {
		t.Errorf("form shown again with %v", fresh)
	}
	if got := doc.Find(`[data-testid="refund-refundable"]`).Text(); !strings.Contains(got, "$30.00") {
		t.Errorf("refundable shown as %q, want $30.00", got)
	}
	if n := len(e.stripe.Calls("POST /v1/refunds")); n != 0 {
		t.Errorf("a stale form reached Stripe")
	}
}

func TestRefundStripeRefusal(t *testing.T) {
	e := newRefundEnv(t)
	support := e.mustLogin(store.RoleSupport)
	form := with(e.openForm(support, "ch_refund1"), "step", "confirm")

	for _, tc := range []struct {
		status      int
		body, want  string
		wantHTTP    int
		wantRetries bool
	}{
		{400, `{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge ch_refund1 has already been refunded."}}`,
			"already fully refunded", http.StatusConflict, false},
		{400, `{"error":{"type":"invalid_request_error","code":"balance_insufficient","message":"Insufficient funds."}}`,
			"balance is too low", http.StatusConflict, false},
		{400, `{"error":{"type":"invalid_request_error","code":"charge_disputed","message":"Charge is disputed."}}`,
			"disputed", http.StatusConflict, false},
		{500, `{"error":{"type":"api_error","message":"An unknown error occurred"}}`,
			"Submitting the form again is safe", http.StatusBadGateway, true},
	} {
		e.stripe.Refuse("POST /v1/refunds*", tc.status, tc.body)
		rec, doc := e.post(support, "ch_refund1", form)
		if rec.Code != tc.wantHTTP {
			t.Errorf("Stripe %d: answered %d, want %d", tc.status, rec.Code, tc.wantHTTP)
		}
		if msg := doc.Find(`[data-testid="refund-error"]`).Text(); !strings.Contains(msg, tc.want) {
			t.Errorf("Stripe %d: the form says %q, want %q", tc.status, msg, tc.want)
		}
		// The confirmation is shown again with the same key, so sending it
		// again is the same request to Stripe.
		if key := formValues(doc.Find(`[data-testid="refund-confirm-form"]`)).Get("key"); key != form.Get("key") {
			t.Errorf("Stripe %d: the form came back with key %q", tc.status, key)
		}
	}
	// Nothing changed locally; each refusal left its one audit row.
	if c := e.charge("ch_refund1"); c.AmountRefunded != 0 || c.Refunded {
		t.Errorf("charge changed after refusals: %+v", c)
	}
	if n := e.count(`SELECT count(*) FROM refunds`); n != 0 {
		t.Errorf("%d refund rows after refusals", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'refund.create' AND outcome = 'failed' AND stripe_request_id = 'req_refused'`); n != 4 {
		t.Errorf("%d failed audit rows with Stripe's request id, want 4", n)
	}
	// Once Stripe accepts, the same form makes the refund.
	e.stripe.Refuse("POST /v1/refunds*", 0, "")
	if rec, _ := e.post(support, "ch_refund1", form); rec.Code != http.StatusSeeOther {
		t.Fatalf("after the refusals: %d\n%s", rec.Code, rec.Body)
	}
	keys := map[string]bool{}
	for _, r := range e.stripe.Calls("POST /v1/refunds") {
		keys[r.IdempotencyKey] = true
	}
	if len(keys) != 1 || len(e.stripe.Calls("POST /v1/refunds")) != 5 {
		t.Errorf("Stripe got %d refund requests under %d keys, want 5 under one", len(e.stripe.Calls("POST /v1/refunds")), len(keys))
	}
	if c := e.charge("ch_refund1"); c.AmountRefunded != 5000 {
		t.Errorf("amount_refunded %d after the accepted retry", c.AmountRefunded)
	}
}
