package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"paydesk/handlers"
	"paydesk/store"
)

// approvalEnv is a refundEnv whose USD refunds above $100.00 and JPY
// refunds above ¥10,000 need a second person's approval, with a large
// charge and a second support user.
type approvalEnv struct {
	*refundEnv
	// asker and approver are two support users; other is a billing user
	// (refund rights too).
	asker, approver, other *http.Cookie
	approverUser           store.User
}

func newApprovalEnv(t *testing.T) *approvalEnv {
	t.Helper()
	e := newRefundEnv(t, func(c *handlers.Config) {
		c.RefundApproval = map[string]int64{"usd": 10_000, "jpy": 10_000}
	})
	e.putCharge("ch_big", "usd", 100_000, 0) // $1,000.00
	a := &approvalEnv{refundEnv: e}
	a.approverUser = e.addUser("support2@example.com", store.RoleSupport)
	a.asker = e.mustLogin(store.RoleSupport)
	rec, c := e.login("support2@example.com", testPassword)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login support2: %d", rec.Code)
	}
	a.approver = c
	a.other = e.mustLogin(store.RoleBilling)
	return a
}

// request asks for a refund of amount on charge through the form's two
// steps and returns the confirm's answer.
func (a *approvalEnv) request(cookie *http.Cookie, charge, amount string) *httptest.ResponseRecorder {
	a.t.Helper()
	rec, _ := a.post(cookie, charge, with(a.openForm(cookie, charge), "amount", amount, "step", "confirm", "note", "Customer <b>asked</b>"))
	return rec
}

// requestID is the newest request of charge.
func (a *approvalEnv) requestID(charge string) int64 {
	a.t.Helper()
	return int64(a.count(`SELECT coalesce(max(id), 0) FROM refund_requests WHERE charge = $1`, charge))
}

func (a *approvalEnv) stored(id int64) store.RefundRequest {
	a.t.Helper()
	r, err := a.st.RefundRequest(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	return r
}

func (a *approvalEnv) decide(cookie *http.Cookie, id int64, what string, form url.Values) *httptest.ResponseRecorder {
	a.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return a.do(http.MethodPost, "/refunds/requests/"+strconv.FormatInt(id, 10)+"/"+what, form, cookie)
}

func bodyHas(t *testing.T, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("answer %d does not say %q:\n%s", rec.Code, want, rec.Body)
	}
}

func TestRefundBelowApprovalIsDirect(t *testing.T) {
	a := newApprovalEnv(t)
	// The form says when approval is needed.
	doc := a.parsedPage(a.asker, "/charges/ch_big/refund", http.StatusOK)
	if got := doc.Find(`[data-testid="refund-approval-hint"]`).Text(); !strings.Contains(got, "above $100.00") {
		t.Errorf("approval hint %q", got)
	}
	// Exactly the amount: no approval, the refund is made at once.
	form := with(a.openForm(a.asker, "ch_big"), "amount", "100.00")
	_, doc = a.post(a.asker, "ch_big", with(form, "step", "review"))
	if doc.Find(`[data-testid="confirm-needs-approval"]`).Length() != 0 ||
		!strings.Contains(doc.Find(`[data-testid="refund-submit"]`).Text(), "Refund $100.00") {
		t.Errorf("a refund at the approval amount asks for approval: %s", doc.Find(`[data-testid="refund-confirm-form"]`).Text())
	}
	rec, _ := a.post(a.asker, "ch_big", with(form, "step", "confirm"))
	if rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "refunded=re_") {
		t.Fatalf("direct refund: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if n := len(a.stripe.Calls("POST /v1/refunds")); n != 1 {
		t.Errorf("%d refunds reached Stripe, want 1", n)
	}
	if n := a.count(`SELECT count(*) FROM refund_requests`); n != 0 {
		t.Errorf("%d requests made for a refund under the amount", n)
	}
	// A currency with no amount configured needs no approval however large
	// (reviewed only: stripe-mock answers every refund in USD).
	a.putCharge("ch_eur", "eur", 1_000_000, 0)
	rec, doc = a.post(a.asker, "ch_eur", with(a.openForm(a.asker, "ch_eur"), "step", "review"))
	if rec.Code != http.StatusOK || doc.Find(`[data-testid="confirm-needs-approval"]`).Length() != 0 ||
		!strings.Contains(doc.Find(`[data-testid="refund-submit"]`).Text(), "Refund €10,000.00") ||
		doc.Find(`[data-testid="refund-approval-hint"]`).Length() != 0 {
		t.Errorf("EUR review: %d %q", rec.Code, doc.Find(`[data-testid="refund-confirm-form"]`).Text())
	}
	if n := a.auditCount("refund.create"); n != 1 {
		t.Errorf("%d refund.create rows, want 1", n)
	}
}

func TestRefundApprovalFlow(t *testing.T) {
	a := newApprovalEnv(t)

	// Review: the confirmation says a second person must approve.
	form := with(a.openForm(a.asker, "ch_big"), "amount", "600.00", "reason", "other", "note", "Customer <b>asked</b>")
	rec, doc := a.post(a.asker, "ch_big", with(form, "step", "review"))
	if rec.Code != http.StatusOK {
		t.Fatalf("review: %d\n%s", rec.Code, rec.Body)
	}
	if got := doc.Find(`[data-testid="confirm-needs-approval"]`).Text(); !strings.Contains(got, "second person's approval") {
		t.Errorf("the confirmation says %q", got)
	}
	if got := strings.TrimSpace(doc.Find(`[data-testid="refund-submit"]`).Text()); got != "Request approval" {
		t.Errorf("the confirm button reads %q", got)
	}
	// Confirm: a request, its audit row, no Stripe call. The same form
	// sent again finds the same request.
	confirm := formValues(doc.Find(`[data-testid="refund-confirm-form"]`))
	rec, _ = a.post(a.asker, "ch_big", confirm)
	id := a.requestID("ch_big")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/refunds/requests?requested="+strconv.FormatInt(id, 10) {
		t.Fatalf("confirm: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	again, _ := a.post(a.asker, "ch_big", confirm)
	if again.Code != http.StatusSeeOther || !strings.Contains(again.Header().Get("Location"), "again=1") {
		t.Errorf("the same confirmation again: %d %q", again.Code, again.Header().Get("Location"))
	}
	if n := len(a.stripe.Calls("POST /v1/refunds")); n != 0 {
		t.Fatalf("a request reached Stripe %d times", n)
	}
	req := a.stored(id)
	if req.Status != store.RefundRequestPending || req.Amount != 60_000 || req.Currency != "usd" || req.Reason != "other" ||
		req.Note != "Customer <b>asked</b>" || req.RequesterEmail != "support@example.com" ||
		a.count(`SELECT count(*) FROM refund_requests`) != 1 {
		t.Fatalf("stored request %+v", req)
	}
	if n := a.auditCount("refund.request"); n != 1 {
		t.Errorf("%d refund.request rows, want 1", n)
	}
	if c := a.charge("ch_big"); c.AmountRefunded != 0 {
		t.Errorf("a request changed the charge: %+v", c)
	}

	// The request holds its amount: the form offers what is left, refuses
	// more, and refuses a second request while this one waits.
	doc = a.parsedPage(a.asker, "/charges/ch_big/refund", http.StatusOK)
	if got := doc.Find(`[data-testid="refund-refundable"]`).Text(); !strings.Contains(got, "$400.00") {
		t.Errorf("still refundable shown as %q, want $400.00", got)
	}
	if got := doc.Find(`[data-testid="refund-open-request"]`).Text(); !strings.Contains(got, "$600.00") || !strings.Contains(got, "support@example.com") {
		t.Errorf("the form's notice of the open request: %q", got)
	}
	rec, doc = a.post(a.approver, "ch_big", with(a.openForm(a.approver, "ch_big"), "amount", "400.01", "step", "confirm"))
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(doc.Find(`[data-testid="error-amount"]`).Text(), "At most $400.00") {
		t.Errorf("more than what is left: %d %q", rec.Code, doc.Find(`[data-testid="error-amount"]`).Text())
	}
	rec = a.request(a.approver, "ch_big", "300.00")
	if rec.Code != http.StatusConflict {
		t.Errorf("a second request: %d, want 409", rec.Code)
	}
	bodyHas(t, rec, "already waiting for approval")
	if n := a.count(`SELECT count(*) FROM refund_requests`); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}

	// The requester sees the request without an Approve button, and the
	// menu counts it.
	page := a.parsedPage(a.asker, "/refunds/requests", http.StatusOK)
	row := page.Find(`[data-testid="requests-open"] [data-testid="request-row"]`)
	if row.Length() != 1 {
		t.Fatalf("%d open rows:\n%s", row.Length(), page.Find("main").Text())
	}
	for id, want := range map[string]string{"request-amount": "$600.00", "request-charge": "ch_big", "request-customer": "Ada Lovelace",
		"request-by": "support@example.com", "request-note": "Customer <b>asked</b>", "request-reason": "Other"} {
		if got := strings.TrimSpace(row.Find(`[data-testid="` + id + `"]`).Text()); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if row.Find(`[data-testid="request-approve"]`).Length() != 0 || row.Find(`[data-testid="request-own"]`).Length() != 1 {
		t.Errorf("the requester is offered Approve")
	}
	if got := page.Find(`[data-testid="main-nav"] a[href="/refunds/requests"]`).Text(); got != "Refund requests (1)" {
		t.Errorf("menu entry %q", got)
	}
	// ... and a forged approval of their own request is refused.
	rec = a.decide(a.asker, id, "approve", nil)
	if rec.Code != http.StatusForbidden {
		t.Errorf("self-approval: %d, want 403", rec.Code)
	}
	bodyHas(t, rec, "cannot approve it")
	if n := len(a.stripe.Calls("POST /v1/refunds")); n != 0 || a.auditCount("refund.approve") != 0 || a.stored(id).Status != store.RefundRequestPending {
		t.Fatalf("a refused self-approval changed something: %d Stripe calls, request %s", n, a.stored(id).Status)
	}

	// Another support user approves: one refund under the request's key.
	page = a.parsedPage(a.approver, "/refunds/requests", http.StatusOK)
	if page.Find(`[data-testid="requests-open"] [data-testid="request-approve"]`).Length() != 1 {
		t.Fatalf("the approver is not offered Approve:\n%s", page.Find("main").Text())
	}
	rec = a.decide(a.approver, id, "approve", nil)
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/charges/ch_big?refunded=re_") {
		t.Fatalf("approve: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	calls := a.stripe.Calls("POST /v1/refunds")
	if len(calls) != 1 || calls[0].IdempotencyKey != req.Key {
		t.Fatalf("Stripe got %+v, want one refund under the request's key %q", calls, req.Key)
	}
	if f := calls[0].Form; f.Get("charge") != "ch_big" || f.Get("amount") != "60000" || f.Get("metadata[paydesk_user]") != "support@example.com" ||
		f.Get("metadata[paydesk_approved_by]") != "support2@example.com" || f.Get("metadata[note]") != "Customer <b>asked</b>" ||
		f.Get("metadata[reason]") != "other" || f.Get("metadata[paydesk_request]") != strconv.FormatInt(id, 10) {
		t.Errorf("Stripe got the refund %v", f)
	}
	req = a.stored(id)
	if req.Status != store.RefundRequestExecuted || req.RefundID == nil || !strings.Contains(rec.Header().Get("Location"), *req.RefundID) ||
		req.DecidedBy == nil || *req.DecidedBy != a.approverUser.ID {
		t.Fatalf("request after the approval %+v", req)
	}
	if c := a.charge("ch_big"); c.AmountRefunded != 60_000 {
		t.Errorf("charge amount_refunded %d, want 60000", c.AmountRefunded)
	}
	// One audit row for the approval and its refund, naming both people.
	var audit store.AuditRow
	if err := a.st.DB().GetContext(context.Background(), &audit, `SELECT id, at, actor_id, actor, action, target, params, outcome,
		stripe_request_id, remote_addr FROM audit_log WHERE action = 'refund.approve'`); err != nil {
		t.Fatal(err)
	}
	if audit.Actor != "support2@example.com" || audit.Outcome != store.AuditOK || *audit.Target != "charge:ch_big" ||
		!strings.Contains(string(audit.Params), `"requested_by": "support@example.com"`) ||
		!strings.Contains(string(audit.Params), `"result": "`+*req.RefundID+`"`) || audit.StripeRequestID == nil {
		t.Errorf("audit row %+v params %s", audit, audit.Params)
	}
	if n := a.auditCount("refund.create"); n != 0 {
		t.Errorf("%d refund.create rows beside refund.approve, want none", n)
	}
	// The charge page shows the refund.
	charge := a.parsedPage(a.approver, rec.Header().Get("Location"), http.StatusOK)
	if got := charge.Find(`#charge-refunds`).Text(); !strings.Contains(got, *req.RefundID) {
		t.Errorf("the charge page's refunds do not show %s: %q", *req.RefundID, got)
	}

	// The approver's click again shows the refund; anyone else's is stale.
	rec = a.decide(a.approver, id, "approve", nil)
	if rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "again=1") {
		t.Errorf("approve again: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = a.decide(a.other, id, "approve", nil)
	if rec.Code != http.StatusConflict {
		t.Errorf("stale approval: %d, want 409", rec.Code)
	}
	bodyHas(t, rec, "already approved by support2@example.com")
	rec = a.decide(a.other, id, "reject", nil)
	if rec.Code != http.StatusConflict {
		t.Errorf("stale reject: %d, want 409", rec.Code)
	}
	if n := len(a.stripe.Calls("POST /v1/refunds")); n != 1 || a.auditCount("refund.approve") != 1 || a.auditCount("refund.reject") != 0 {
		t.Errorf("after stale decisions: %d Stripe calls, %d approve rows", n, a.auditCount("refund.approve"))
	}
	// Decided, it is listed as such; the menu counts nothing.
	page = a.parsedPage(a.asker, "/refunds/requests", http.StatusOK)
	if page.Find(`[data-testid="requests-none"]`).Length() != 1 {
		t.Errorf("open requests remain")
	}
	decided := page.Find(`[data-testid="requests-decided"] [data-testid="request-row"]`)
	if got := decided.Find(`[data-testid="request-decision"]`).Text(); !strings.Contains(got, "Approved by support2@example.com") {
		t.Errorf("decision %q", got)
	}
	if got := decided.Find(`[data-testid="request-refund"]`).Text(); got != *req.RefundID {
		t.Errorf("refund shown %q", got)
	}
	if got := page.Find(`[data-testid="main-nav"] a[href="/refunds/requests"]`).Text(); got != "Refund requests" {
		t.Errorf("menu entry %q", got)
	}
	// Viewers neither see the menu entry nor the page.
	viewer := a.mustLogin(store.RoleViewer)
	if a.parsedPage(viewer, "/", http.StatusOK).Find(`a[href="/refunds/requests"]`).Length() != 0 {
		t.Errorf("a viewer is offered the refund requests")
	}
	if rec := a.do(http.MethodGet, "/refunds/requests", nil, viewer); rec.Code != http.StatusForbidden {
		t.Errorf("viewer: %d", rec.Code)
	}
}

func TestRefundApprovalConcurrent(t *testing.T) {
	a := newApprovalEnv(t)
	a.putCharge("ch_big2", "usd", 50_000, 0)
	a.stripe.Delay("/v1/refunds*", 400*time.Millisecond)

	// One approver clicking many times at once; then two approvers at once.
	for _, tc := range []struct {
		charge    string
		approvers []*http.Cookie
	}{
		{"ch_big", []*http.Cookie{a.approver, a.approver, a.approver, a.approver, a.approver, a.approver}},
		{"ch_big2", []*http.Cookie{a.approver, a.other, a.approver, a.other}},
	} {
		if rec := a.request(a.asker, tc.charge, "250.00"); rec.Code != http.StatusSeeOther {
			t.Fatalf("request: %d\n%s", rec.Code, rec.Body)
		}
		id := a.requestID(tc.charge)
		codes := make([]int, len(tc.approvers))
		var wg sync.WaitGroup
		for i, c := range tc.approvers {
			wg.Go(func() { codes[i] = a.decide(c, id, "approve", nil).Code })
		}
		wg.Wait()
		ok := 0
		for _, code := range codes {
			switch code {
			case http.StatusSeeOther:
				ok++
			case http.StatusConflict:
			default:
				t.Errorf("%s: an approval answered %d", tc.charge, code)
			}
		}
		if ok == 0 {
			t.Errorf("%s: no approval went through: %v", tc.charge, codes)
		}
		keys := map[string]int{}
		for _, r := range a.stripe.Calls("POST /v1/refunds") {
			if r.Form.Get("charge") == tc.charge {
				keys[r.IdempotencyKey]++
			}
		}
		if req := a.stored(id); len(keys) != 1 || keys[req.Key] != 1 || req.Status != store.RefundRequestExecuted {
			t.Errorf("%s: Stripe got %v, request %s; want its key once and executed", tc.charge, keys, req.Status)
		}
		if n := a.count(`SELECT count(*) FROM refunds WHERE charge = $1`, tc.charge); n != 1 {
			t.Errorf("%s: %d refund rows, want 1", tc.charge, n)
		}
		if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'refund.approve' AND target = $1`, "charge:"+tc.charge); n != 1 {
			t.Errorf("%s: %d audit rows, want 1", tc.charge, n)
		}
		if c := a.charge(tc.charge); c.AmountRefunded != 25_000 {
			t.Errorf("%s: amount_refunded %d, want 25000", tc.charge, c.AmountRefunded)
		}
	}
	// With two approvers, exactly one of them decided; the other was told.
	if n := a.count(`SELECT count(DISTINCT decided_by) FROM refund_requests WHERE charge = 'ch_big2'`); n != 1 {
		t.Errorf("%d deciders", n)
	}
}

func TestRefundRequestRejectAndWithdraw(t *testing.T) {
	a := newApprovalEnv(t)
	if rec := a.request(a.asker, "ch_big", "700"); rec.Code != http.StatusSeeOther {
		t.Fatalf("request: %d\n%s", rec.Code, rec.Body)
	}
	id := a.requestID("ch_big")
	rec := a.decide(a.approver, id, "reject", url.Values{"note": {"Refund <i>half</i> instead"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/refunds/requests?rejected="+strconv.FormatInt(id, 10) {
		t.Fatalf("reject: %d %q\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	req := a.stored(id)
	if req.Status != store.RefundRequestRejected || req.DecisionNote != "Refund <i>half</i> instead" || deref(req.DeciderEmail) != "support2@example.com" {
		t.Fatalf("rejected request %+v", req)
	}
	// The rejecter's click again is answered; approving now is stale.
	if rec := a.decide(a.approver, id, "reject", nil); rec.Code != http.StatusSeeOther {
		t.Errorf("reject again: %d", rec.Code)
	}
	rec = a.decide(a.other, id, "approve", nil)
	if rec.Code != http.StatusConflict {
		t.Errorf("approve after reject: %d", rec.Code)
	}
	bodyHas(t, rec, "already rejected by support2@example.com")
	if n := len(a.stripe.Calls("POST /v1/refunds")); n != 0 || a.auditCount("refund.reject") != 1 || a.auditCount("refund.approve") != 0 {
		t.Errorf("after the rejection: %d Stripe calls, %d reject rows", n, a.auditCount("refund.reject"))
	}
	if c := a.charge("ch_big"); c.AmountRefunded != 0 {
		t.Errorf("charge changed: %+v", c)
	}
	// The charge is free for a new request, which its requester withdraws.
	if rec := a.request(a.asker, "ch_big", "1000.00"); rec.Code != http.StatusSeeOther {
		t.Fatalf("second request: %d\n%s", rec.Code, rec.Body)
	}
	second := a.requestID("ch_big")
	if second == id {
		t.Fatalf("no new request")
	}
	if rec := a.decide(a.asker, second, "reject", url.Values{"note": {"typo"}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("withdraw: %d\n%s", rec.Code, rec.Body)
	}
	page := a.parsedPage(a.asker, "/refunds/requests", http.StatusOK)
	if got := page.Find(`[data-testid="requests-decided"] [data-testid="request-decision"]`).First().Text(); !strings.HasPrefix(got, "Withdrawn by support@example.com") {
		t.Errorf("withdrawal shown as %q", got)
	}
	// A note too long is refused before anything changes.
	if rec := a.request(a.asker, "ch_big", "200"); rec.Code != http.StatusSeeOther {
		t.Fatalf("third request: %d", rec.Code)
	}
	third := a.requestID("ch_big")
	if rec := a.decide(a.approver, third, "reject", url.Values{"note": {strings.Repeat("n", 501)}}); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("long note: %d", rec.Code)
	}
	if a.stored(third).Status != store.RefundRequestPending || a.auditCount("refund.reject") != 2 {
		t.Errorf("a refused rejection changed something")
	}
	// An unknown request.
	if rec := a.decide(a.approver, 999_999, "approve", nil); rec.Code != http.StatusNotFound {
		t.Errorf("unknown request: %d", rec.Code)
	}
	if rec := a.decide(a.approver, 0, "reject", nil); rec.Code != http.StatusNotFound {
		t.Errorf("request 0: %d", rec.Code)
	}
}

func TestRefundApprovalRefused(t *testing.T) {
	a := newApprovalEnv(t)

	// More than the charge has left by the time of the approval (a refund
	// made in Stripe's dashboard meanwhile): refused before Stripe.
	if rec := a.request(a.asker, "ch_big", "600"); rec.Code != http.StatusSeeOther {
		t.Fatalf("request: %d", rec.Code)
	}
	id := a.requestID("ch_big")
	a.putCharge("ch_big", "usd", 100_000, 50_000)
	rec := a.decide(a.approver, id, "approve", nil)
	if rec.Code != http.StatusConflict {
		t.Errorf("approval of too much: %d, want 409", rec.Code)
	}
	bodyHas(t, rec, "only $500.00 left to refund")
	if n := len(a.stripe.Calls("POST /v1/refunds")); n != 0 || a.auditCount("refund.approve") != 0 || a.stored(id).Status != store.RefundRequestPending {
		t.Fatalf("a refused approval changed something")
	}
	if rec := a.decide(a.approver, id, "reject", nil); rec.Code != http.StatusSeeOther {
		t.Fatalf("reject: %d", rec.Code)
	}

	// Stripe refuses for good: the request fails with Stripe's message and
	// one failed audit row.
	a.putCharge("ch_big3", "usd", 100_000, 0)
	if rec := a.request(a.asker, "ch_big3", "300"); rec.Code != http.StatusSeeOther {
		t.Fatalf("request: %d", rec.Code)
	}
	id = a.requestID("ch_big3")
	a.stripe.Refuse("POST /v1/refunds*", 400, `{"error":{"type":"invalid_request_error","code":"charge_disputed","message":"Charge is disputed."}}`)
	rec = a.decide(a.approver, id, "approve", nil)
	if rec.Code != http.StatusConflict {
		t.Errorf("Stripe's refusal: %d, want 409", rec.Code)
	}
	bodyHas(t, rec, "was not refunded")
	req := a.stored(id)
	if req.Status != store.RefundRequestFailed || !strings.Contains(deref(req.Error), "disputed") {
		t.Errorf("request after Stripe's refusal %+v", req)
	}
	if n := a.count(`SELECT count(*) FROM audit_log WHERE action = 'refund.approve' AND outcome = 'failed' AND stripe_request_id = 'req_refused'`); n != 1 {
		t.Errorf("%d failed audit rows, want 1", n)
	}
	if c := a.charge("ch_big3"); c.AmountRefunded != 0 {
		t.Errorf("charge changed: %+v", c)
	}

	// Stripe's answer is unknown (5xx): the request stays approved, and the
	// approver sends it again under the same key.
	a.putCharge("ch_big4", "usd", 100_000, 0)
	a.stripe.Refuse("POST /v1/refunds*", 0, "")
	if rec := a.request(a.asker, "ch_big4", "300"); rec.Code != http.StatusSeeOther {
		t.Fatalf("request: %d", rec.Code)
	}
	id = a.requestID("ch_big4")
	a.stripe.Refuse("POST /v1/refunds*", 500, `{"error":{"type":"api_error","message":"An unknown error occurred"}}`)
	rec = a.decide(a.approver, id, "approve", nil)
	if rec.Code != http.StatusBadGateway {
		t.Errorf("Stripe 500: %d, want 502", rec.Code)
	}
	bodyHas(t, rec, "Submitting the form again is safe")
	if st := a.stored(id).Status; st != store.RefundRequestApproved {
		t.Errorf("request after a 500: %s, want approved", st)
	}
	page := a.parsedPage(a.approver, "/refunds/requests", http.StatusOK)
	if page.Find(`[data-testid="request-retry"]`).Length() != 1 {
		t.Errorf("the approver is not offered to send it again")
	}
	if page := a.parsedPage(a.other, "/refunds/requests", http.StatusOK); page.Find(`[data-testid="request-retry"], [data-testid="request-approve"]`).Length() != 0 {
		t.Errorf("someone else is offered to send it")
	}
	if rec := a.decide(a.other, id, "approve", nil); rec.Code != http.StatusConflict {
		t.Errorf("another approver on an approved request: %d", rec.Code)
	}
	a.stripe.Refuse("POST /v1/refunds*", 0, "")
	rec = a.decide(a.approver, id, "approve", nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("retry: %d\n%s", rec.Code, rec.Body)
	}
	keys := map[string]int{}
	for _, r := range a.stripe.Calls("POST /v1/refunds") {
		if r.Form.Get("charge") == "ch_big4" {
			keys[r.IdempotencyKey]++
		}
	}
	if len(keys) != 1 || keys[a.stored(id).Key] != 2 || a.stored(id).Status != store.RefundRequestExecuted {
		t.Errorf("Stripe got %v; request %s", keys, a.stored(id).Status)
	}
	if c := a.charge("ch_big4"); c.AmountRefunded != 30_000 {
		t.Errorf("amount_refunded %d, want 30000", c.AmountRefunded)
	}
}

func TestParseRefundApproval(t *testing.T) {
	got, err := handlers.ParseRefundApproval(" usd=500.00, EUR=500 ,jpy=50000,bhd=1.234,")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"usd": 50_000, "eur": 50_000, "jpy": 50_000, "bhd": 1_234}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if m, err := handlers.ParseRefundApproval(""); err != nil || len(m) != 0 {
		t.Errorf("empty: %v %v", m, err)
	}
	for in, wantErr := range map[string]string{
		"usd":                      "want currency=amount",
		"usd=":                     "want currency=amount",
		"dollars=5":                "three-letter currency",
		"us1=5":                    "three-letter currency",
		"usd=5.001":                "too many decimal places",
		"jpy=10.5":                 "too many decimal places",
		"usd=-5":                   "negative",
		"usd=1e3":                  "not a number",
		"usd=5,usd=6":              "USD is listed twice",
		"usd=99999999999999999999": "too large",
	} {
		_, err := handlers.ParseRefundApproval(in)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: %v, want an error saying %q", in, err, wantErr)
		}
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
