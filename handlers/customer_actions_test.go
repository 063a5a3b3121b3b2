package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/stripeapi/stripemock"
)

// customerEnv is a staff server whose customer forms reach stripe-mock
// through a stripemock.Recorder, with one customer in the mirror.
type customerEnv struct {
	*staffEnv
	stripe *stripemock.Recorder
}

func newCustomerEnv(t *testing.T) *customerEnv {
	t.Helper()
	rec, api := startStripeRecorder(t)
	e := &customerEnv{staffEnv: newStaffEnv(t, handlers.Config{Customers: api.Customers}), stripe: rec}
	e.putCustomer(10, "Ada Lovelace", "ada@example.com", map[string]string{"plan": "gold", "region": "eu"})
	return e
}

func (e *customerEnv) putCustomer(version int64, name, email string, metadata map[string]string) {
	e.t.Helper()
	data, _ := json.Marshal(map[string]any{"id": "cus_edit1", "object": "customer", "name": name, "email": email,
		"metadata": metadata})
	if _, err := e.st.UpsertCustomers(context.Background(), []store.Customer{{ID: "cus_edit1", Name: ptr(name),
		Email: ptr(email), Phone: ptr("+44 20 7946 0000"), Created: time.Unix(1_700_000_000, 0), Data: data,
		Version: version}}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *customerEnv) form(cookie *http.Cookie, path string) url.Values {
	e.t.Helper()
	doc := e.parsedPage(cookie, path, http.StatusOK)
	form := doc.Find(`[data-testid="customer-form"]`)
	if form.Length() != 1 {
		e.t.Fatalf("no customer form at %s:\n%s", path, doc.Find("main").Text())
	}
	return customerFormValues(form)
}

// customerFormValues reads a form like formValues, keeping every value of
// the repeated metadata fields.
func customerFormValues(form *goquery.Selection) url.Values {
	v := url.Values{}
	form.Find("input[name], textarea[name]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		val, _ := s.Attr("value")
		if s.Is("textarea") {
			val = s.Text()
		}
		v.Add(name, val)
	})
	return v
}

func (e *customerEnv) post(cookie *http.Cookie, path string, form url.Values) (int, string, *goquery.Document) {
	e.t.Helper()
	rec := e.do(http.MethodPost, path, form, cookie)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
	if err != nil {
		e.t.Fatal(err)
	}
	return rec.Code, rec.Header().Get("Location"), doc
}

func auditParams(t *testing.T, st *store.Store, action string) []map[string]any {
	t.Helper()
	var rows []store.AuditRow
	if err := st.DB().SelectContext(context.Background(), &rows, `SELECT id, at, actor_id, actor, action, target, params,
		outcome, stripe_request_id, remote_addr FROM audit_log WHERE action = $1 ORDER BY id`, action); err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r.Params, &out[i]); err != nil {
			t.Fatal(err)
		}
		out[i]["_actor"], out[i]["_outcome"], out[i]["_target"] = r.Actor, r.Outcome, textOf(r.Target)
	}
	return out
}

func textOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestCustomerCreate(t *testing.T) {
	e := newCustomerEnv(t)
	billing := e.mustLogin(store.RoleBilling)

	// The list offers "New customer" to billing staff, not to support.
	if href, _ := e.parsedPage(billing, "/customers", http.StatusOK).Find(`[data-testid="new-customer-link"]`).Attr("href"); href != "/customers/new" {
		t.Errorf("new-customer link %q for billing", href)
	}
	support := e.mustLogin(store.RoleSupport)
	if n := e.parsedPage(support, "/customers", http.StatusOK).Find(`[data-testid="new-customer-link"]`).Length(); n != 0 {
		t.Errorf("support is offered the new-customer link")
	}
	if rec := e.do(http.MethodGet, "/customers/new", nil, support); rec.Code != http.StatusForbidden {
		t.Errorf("support opens the form: %d", rec.Code)
	}

	form := e.form(billing, "/customers/new")
	other := e.form(billing, "/customers/new")
	if form.Get("key") == "" || form.Get("key") == other.Get("key") {
		t.Fatalf("new forms carry keys %q and %q, want two different ones", form.Get("key"), other.Get("key"))
	}
	hostile := `<script>alert(1)</script> ‮Zoë 🙂`
	form.Set("name", hostile)
	form.Set("email", "zoe@example.com")
	form["meta_key"] = []string{"shop", "", "tier"}
	form["meta_value"] = []string{"web <b>", "", "2"}
	code, loc, _ := e.post(billing, "/customers", form)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/customers/cus_") || !strings.Contains(loc, "created=1") {
		t.Fatalf("create: %d %q", code, loc)
	}
	calls := e.stripe.Calls("POST /v1/customers")
	if len(calls) != 1 || calls[0].IdempotencyKey != form.Get("key") {
		t.Fatalf("Stripe got %+v, want one customer under the form's key", calls)
	}
	if f := calls[0].Form; f.Get("name") != hostile || f.Get("email") != "zoe@example.com" || f.Get("metadata[shop]") != "web <b>" ||
		f.Get("metadata[tier]") != "2" || f.Has("phone") || f.Has("description") {
		t.Errorf("Stripe got %v", f)
	}
	id := strings.TrimPrefix(strings.Split(loc, "?")[0], "/customers/")
	if n := count(e.t, e.st, `SELECT count(*) FROM customers WHERE id = $1 AND version >= $2`, id, time.Now().Add(-time.Minute).Unix()); n != 1 {
		t.Errorf("the new customer is not written through (%d rows)", n)
	}
	page := e.parsedPage(billing, loc, http.StatusOK)
	if flash := page.Find(`[data-testid="flash"]`).Text(); !strings.Contains(flash, "created") {
		t.Errorf("flash %q", flash)
	}

	// The same form again (a double click, a retry): one customer.
	code, loc2, _ := e.post(billing, "/customers", form)
	if code != http.StatusSeeOther || !strings.Contains(loc2, "/customers/"+id+"?") || !strings.Contains(loc2, "again=1") {
		t.Errorf("second post: %d %q", code, loc2)
	}
	if n := len(e.stripe.Calls("POST /v1/customers")); n != 1 {
		t.Errorf("%d customer requests reached Stripe, want 1", n)
	}
	audit := auditParams(t, e.st, "customer.create")
	if len(audit) != 1 {
		t.Fatalf("%d audit rows, want 1", len(audit))
	}
	a := audit[0]
	if a["_actor"] != "billing@example.com" || a["_outcome"] != "ok" || a["result"] != id ||
		fmt.Sprint(a["name"]) != fmt.Sprint(map[string]any{"before": nil, "after": hostile}) || a["phone"] != nil {
		t.Errorf("audit row %v", a)
	}
}

func TestCustomerFormRefusedBeforeStripe(t *testing.T) {
	e := newCustomerEnv(t)
	billing := e.mustLogin(store.RoleBilling)
	form := e.form(billing, "/customers/new")
	many := url.Values{}
	for i := range 51 {
		many.Add("meta_key", fmt.Sprintf("k%d", i))
		many.Add("meta_value", "v")
	}
	cases := []struct {
		name   string
		values url.Values
		field  string
		want   string
	}{
		{"neither name nor email", url.Values{"name": {" "}, "email": {""}}, "error-name", "at least a name or an email"},
		{"bad email", url.Values{"email": {"ada@"}}, "error-email", "email address like"},
		{"email with a display name", url.Values{"email": {"Ada <ada@example.com>"}}, "error-email", "email address like"},
		{"long phone", url.Values{"name": {"A"}, "phone": {strings.Repeat("1", 21)}}, "error-phone", "at most 20"},
		{"long name", url.Values{"name": {strings.Repeat("é", 257)}}, "error-name", "at most 256"},
		{"bracket in a key", url.Values{"name": {"A"}, "meta_key": {"a[b]"}, "meta_value": {"v"}}, "error-metadata-0", "square brackets"},
		{"long key", url.Values{"name": {"A"}, "meta_key": {strings.Repeat("k", 41)}, "meta_value": {"v"}}, "error-metadata-0", "at most 40"},
		{"long value", url.Values{"name": {"A"}, "meta_key": {"k"}, "meta_value": {strings.Repeat("v", 501)}}, "error-metadata-0", "at most 500"},
		{"value without key", url.Values{"name": {"A"}, "meta_key": {"", ""}, "meta_value": {"", "v"}}, "error-metadata-1", "a key"},
		{"key without value", url.Values{"name": {"A"}, "meta_key": {"k"}, "meta_value": {""}}, "error-metadata-0", "a value"},
		{"duplicate key", url.Values{"name": {"A"}, "meta_key": {"k", "k"}, "meta_value": {"1", "2"}}, "error-metadata-1", "twice"},
		{"51 keys", with(many, "name", "A"), "error-metadata", "at most 50"},
	}
	for _, tc := range cases {
		f := with(form)
		for k, v := range tc.values {
			f[k] = v
		}
		if _, ok := tc.values["meta_key"]; !ok {
			f.Del("meta_key")
			f.Del("meta_value")
		}
		code, _, doc := e.post(billing, "/customers", f)
		if code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422", tc.name, code)
		}
		if got := doc.Find(`[data-testid="` + tc.field + `"]`).Text(); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %s says %q, want %q", tc.name, tc.field, got, tc.want)
		}
	}
	// Edits are checked the same way.
	edit := with(e.form(billing, "/customers/cus_edit1/edit"), "email", "not-an-email")
	if code, _, doc := e.post(billing, "/customers/cus_edit1", edit); code != http.StatusUnprocessableEntity ||
		!strings.Contains(doc.Find(`[data-testid="error-email"]`).Text(), "email address") {
		t.Errorf("edit with a bad email: %d", code)
	}
	if code, _, _ := e.post(billing, "/customers", with(form, "key", "paydesk-customer-new-forged")); code != http.StatusBadRequest {
		t.Errorf("a forged key: %d, want 400", code)
	}
	if n := len(e.stripe.Calls("POST *")); n != 0 {
		t.Errorf("%d requests reached Stripe, want none", n)
	}
	if n := count(e.t, e.st, `SELECT count(*) FROM audit_log WHERE action LIKE 'customer.%'`); n != 0 {
		t.Errorf("%d audit rows for refused forms", n)
	}
	if n := count(e.t, e.st, `SELECT count(*) FROM stripe_actions`); n != 0 {
		t.Errorf("%d actions claimed for refused forms", n)
	}
	support := e.mustLogin(store.RoleSupport)
	if code, _, _ := e.post(support, "/customers", with(form, "name", "A")); code != http.StatusForbidden {
		t.Errorf("support creates: %d", code)
	}
}

func TestCustomerEdit(t *testing.T) {
	e := newCustomerEnv(t)
	billing := e.mustLogin(store.RoleBilling)
	page := e.parsedPage(billing, "/customers/cus_edit1", http.StatusOK)
	if href, _ := page.Find(`[data-testid="customer-edit-link"]`).Attr("href"); href != "/customers/cus_edit1/edit" {
		t.Errorf("edit link %q", href)
	}
	viewer := e.mustLogin(store.RoleViewer)
	if e.parsedPage(viewer, "/customers/cus_edit1", http.StatusOK).Find(`[data-testid="customer-edit-link"]`).Length() != 0 {
		t.Errorf("a viewer is offered the edit link")
	}

	form := e.form(billing, "/customers/cus_edit1/edit")
	if form.Get("name") != "Ada Lovelace" || form.Get("email") != "ada@example.com" ||
		strings.Join(form["meta_key"], ",") != "plan,region,,," || strings.Join(form["meta_value"], ",") != "gold,eu,,," {
		t.Fatalf("edit form prefilled with %v", form)
	}
	// Rename, clear the phone, drop "region", change "plan", add "vip".
	form.Set("name", "Ada King")
	form.Set("phone", "")
	form["meta_key"] = []string{"plan", "", "vip", "", ""}
	form["meta_value"] = []string{"platinum", "", "yes", "", ""}

	// Sent from two tabs at once: one request reaches Stripe.
	e.stripe.Delay("POST /v1/customers/cus_edit1", 300*time.Millisecond)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	locs := make([]string, 4)
	for i := range codes {
		wg.Go(func() { codes[i], locs[i], _ = e.post(billing, "/customers/cus_edit1", form) })
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != http.StatusSeeOther || !strings.HasPrefix(locs[i], "/customers/cus_edit1?") {
			t.Errorf("tab %d: %d %q", i, codes[i], locs[i])
		}
	}
	calls := e.stripe.Calls("POST /v1/customers/cus_edit1")
	if len(calls) != 1 {
		t.Fatalf("%d updates reached Stripe, want 1", len(calls))
	}
	f := calls[0].Form
	if f.Get("name") != "Ada King" || !f.Has("phone") || f.Get("phone") != "" || f.Has("email") ||
		f.Get("metadata[plan]") != "platinum" || f.Get("metadata[vip]") != "yes" || !f.Has("metadata[region]") || f.Get("metadata[region]") != "" {
		t.Errorf("Stripe got %v, want only the changed fields", f)
	}
	audit := auditParams(t, e.st, "customer.update")
	if len(audit) != 1 {
		t.Fatalf("%d audit rows, want 1", len(audit))
	}
	a := audit[0]
	meta, _ := json.Marshal(a["metadata"])
	if a["_target"] != "customer:cus_edit1" || fmt.Sprint(a["name"]) != "map[after:Ada King before:Ada Lovelace]" ||
		fmt.Sprint(a["phone"]) != "map[after: before:+44 20 7946 0000]" || a["email"] != nil ||
		string(meta) != `{"after":{"plan":"platinum","region":"","vip":"yes"},"before":{"plan":"gold","region":"eu"}}` {
		t.Errorf("audit row %v metadata %s", a, meta)
	}
	// Written through: the row holds Stripe's answer at the version of the
	// request.
	var version int64
	if err := e.st.DB().GetContext(context.Background(), &version, `SELECT version FROM customers WHERE id = 'cus_edit1'`); err != nil {
		t.Fatal(err)
	}
	if version < time.Now().Add(-time.Minute).Unix() {
		t.Errorf("version %d after the edit, want the request's second", version)
	}
	e.stripe.Delay("POST /v1/customers/cus_edit1", 0)

	// The same form once more, after it was saved: answered, not sent.
	if code, loc, _ := e.post(billing, "/customers/cus_edit1", form); code != http.StatusSeeOther || !strings.Contains(loc, "again=1") {
		t.Errorf("the saved form again: %d %q", code, loc)
	}
	if n := len(e.stripe.Calls("POST /v1/customers/cus_edit1")); n != 1 {
		t.Errorf("%d updates after a repeat, want 1", n)
	}
}

func TestCustomerEditStale(t *testing.T) {
	e := newCustomerEnv(t)
	billing := e.mustLogin(store.RoleBilling)
	form := with(e.form(billing, "/customers/cus_edit1/edit"), "name", "Ada Byron")
	// Meanwhile the customer changes (a webhook, another tab).
	e.putCustomer(20, "Augusta Ada", "ada@example.com", map[string]string{"plan": "gold"})
	code, _, doc := e.post(billing, "/customers/cus_edit1", form)
	if code != http.StatusConflict {
		t.Fatalf("stale form: %d, want 409", code)
	}
	if msg := doc.Find(`[data-testid="customer-form-error"]`).Text(); !strings.Contains(msg, "changed since the form was opened") ||
		!strings.Contains(msg, "Ada Byron") {
		t.Errorf("stale form says %q", msg)
	}
	fresh := customerFormValues(doc.Find(`[data-testid="customer-form"]`))
	if fresh.Get("name") != "Augusta Ada" || fresh.Get("key") == form.Get("key") {
		t.Errorf("the form is shown again with %v, want the current values and state", fresh)
	}
	if n := len(e.stripe.Calls("POST *")); n != 0 {
		t.Errorf("a stale form reached Stripe")
	}
	// The refreshed form saves.
	if code, _, _ := e.post(billing, "/customers/cus_edit1", with(fresh, "name", "Ada Byron")); code != http.StatusSeeOther {
		t.Errorf("the refreshed form: %d", code)
	}
	// A Stripe refusal leaves the form with the message and one failed
	// audit row; the mirror is not touched.
	e.stripe.Refuse("POST /v1/customers/cus_edit1", 400,
		`{"error":{"type":"invalid_request_error","code":"email_invalid","message":"Invalid email address: x"}}`)
	form = with(e.form(billing, "/customers/cus_edit1/edit"), "email", "ada@example.org")
	code, _, doc = e.post(billing, "/customers/cus_edit1", form)
	if code != http.StatusConflict || !strings.Contains(doc.Find(`[data-testid="customer-form-error"]`).Text(), "refused the email") {
		t.Errorf("refusal: %d %q", code, doc.Find(`[data-testid="customer-form-error"]`).Text())
	}
	if n := count(e.t, e.st, `SELECT count(*) FROM audit_log WHERE action = 'customer.update' AND outcome = 'failed' AND stripe_request_id = 'req_refused'`); n != 1 {
		t.Errorf("%d failed audit rows, want 1", n)
	}
	// Once Stripe accepts, the same form goes through under the same key.
	e.stripe.Refuse("POST /v1/customers/cus_edit1", 0, "")
	if code, loc, _ := e.post(billing, "/customers/cus_edit1", form); code != http.StatusSeeOther || strings.Contains(loc, "again=1") {
		t.Errorf("the refused form sent again: %d %q", code, loc)
	}
	keys := map[string]int{}
	for _, r := range e.stripe.Calls("POST /v1/customers/cus_edit1") {
		keys[r.IdempotencyKey]++
	}
	if len(keys) != 2 {
		t.Errorf("keys %v: want the first save's and the refused form's (twice)", keys)
	}
}
