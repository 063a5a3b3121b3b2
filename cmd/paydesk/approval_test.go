package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"paydesk/handlers/browsertest"
	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi/stripemock"
)

func TestConfigRefundApproval(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{"PAYDESK_REFUND_APPROVAL_ABOVE": "usd=500.00, EUR=500,jpy=50000"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.RefundApproval) != 3 || c.RefundApproval["usd"] != 50_000 || c.RefundApproval["eur"] != 50_000 || c.RefundApproval["jpy"] != 50_000 {
		t.Fatalf("RefundApproval = %v", c.RefundApproval)
	}
	if c, err := loadConfig(envOf(nil)); err != nil || len(c.RefundApproval) != 0 {
		t.Fatalf("unset: %v %v", c.RefundApproval, err)
	}
	for in, want := range map[string]string{
		"usd=500.001": "too many decimal places",
		"usd:500":     "want currency=amount",
		"500":         "want currency=amount",
		"usd=5,usd=6": "USD is listed twice",
		"euro=5":      "three-letter currency",
	} {
		_, err := loadConfig(envOf(map[string]string{"PAYDESK_REFUND_APPROVAL_ABOVE": in}))
		if err == nil || !strings.HasPrefix(err.Error(), "PAYDESK_REFUND_APPROVAL_ABOVE: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming the variable and saying %q", in, err, want)
		}
	}
	// serve refuses to start with it, in one line naming it.
	r := paydesk(t, map[string]string{"PAYDESK_REFUND_APPROVAL_ABOVE": "jpy=10.5"}, "serve", "--addr", "127.0.0.1:0")
	oneLine(t, r, "PAYDESK_REFUND_APPROVAL_ABOVE")
}

// Dual approval in real browsers against a real `paydesk serve` whose
// Stripe is stripe-mock (strict version mode): a support user asks for a
// large refund through the charge page's forms, cannot approve it (no
// button; a forged POST from their page is refused), and a second support
// user, signed in in another browser, approves it; the charge page then
// shows the refund. Screenshots under testoutput/browser/.
func TestRefundApprovalInBrowser(t *testing.T) {
	bA := browsertest.New(t)
	bB := browsertest.New(t) // a separate browser: its own cookies

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// stripe-mock behind a Recorder: the refunds paydesk asks Stripe for
	// are counted by key.
	front, err := stripemock.StartRecorder(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(front.Close)
	refunds := func() (int, map[string]int) {
		calls := front.Calls("POST /v1/refunds")
		keys := map[string]int{}
		for _, c := range calls {
			keys[c.IdempotencyKey]++
		}
		return len(calls), keys
	}

	st, dbURL := storetest.NewWithURL(t)
	env := map[string]string{
		"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": "sk_test_123", "STRIPE_API_BASE": front.URL,
		"STRIPE_WEBHOOK_SECRET": "whsec_approval_browser", "SESSION_SECRET": strings.Repeat("a", 40),
		"PAYDESK_REFUND_APPROVAL_ABOVE": "usd=100.00,jpy=10000",
	}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	const password = "approval-browser-password"
	asker, approver := "asker@example.com", "approver@example.com"
	for _, email := range []string{asker, approver} {
		add := processFor(env, "user", "add", "--email", email, "--role", "support")
		add.Stdin = strings.NewReader(password + "\n")
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("user add %s: %v\n%s", email, err, out)
		}
	}
	// A charge of $1,000.00, as a sync would have stored it (stripe-mock
	// answers every refund in USD).
	bg := context.Background()
	if _, err := st.UpsertCustomers(bg, []store.Customer{{ID: "cus_appr", Email: ptrTo("grace@example.com"),
		Name: ptrTo("Grace <b>Hopper</b>"), Created: time.Unix(1_700_000_000, 0), Data: json.RawMessage(`{}`), Version: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertCharges(bg, []store.Charge{{ID: "ch_appr", Customer: ptrTo("cus_appr"), Amount: 100_000,
		AmountCaptured: 100_000, Currency: "usd", Status: "succeeded", Paid: true, Captured: true,
		Created: time.Unix(1_700_000_100, 0), Data: json.RawMessage(`{"id":"ch_appr","object":"charge"}`), Version: 1}}); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, env).base

	signIn := func(t *testing.T, tab *browsertest.Tab, email string) {
		t.Helper()
		tab.Run(t,
			chromedp.Navigate(base+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), email),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
			chromedp.Click(chromedp.CSS(`[data-testid="login-form"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-email"]`)),
		)
		if got := tab.Text(t, `[data-testid="user-email"]`); got != email {
			t.Fatalf("signed in as %q, want %s", got, email)
		}
	}
	requestCount := func(query string) int {
		var n int
		if err := st.DB().Get(&n, query); err != nil {
			t.Fatal(err)
		}
		return n
	}

	tabA := bA.Tab(t)
	var requestID int64
	t.Run("the asker requests a large refund", func(t *testing.T) {
		signIn(t, tabA, asker)
		tabA.Run(t,
			chromedp.Navigate(base+"/charges/ch_appr"),
			chromedp.Click(chromedp.CSS(`[data-testid="charge-refund-link"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="refund-form"]`)),
		)
		if got := tabA.Text(t, `[data-testid="refund-approval-hint"]`); !strings.Contains(got, "above $100.00") {
			t.Errorf("the form's hint says %q", got)
		}
		tabA.Run(t,
			chromedp.SetValue(chromedp.CSS(`#refund-amount`), "600.00"),
			chromedp.SendKeys(chromedp.CSS(`#refund-note`), "Returned the <b>whole</b> order"),
			chromedp.Click(chromedp.CSS(`[data-testid="refund-review"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-needs-approval"]`)),
		)
		if got := tabA.Text(t, `[data-testid="refund-submit"]`); got != "Request approval" {
			t.Errorf("the confirm button reads %q", got)
		}
		if got := tabA.Text(t, `[data-testid="confirm-amount"]`); got != "$600.00" {
			t.Errorf("confirming %q", got)
		}
		tabA.Screenshot(t, "request-confirm")
		tabA.Run(t,
			chromedp.Click(chromedp.CSS(`[data-testid="refund-submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="refund-requests-page"]`)),
		)
		if got := tabA.Text(t, `[data-testid="flash"]`); !strings.Contains(got, "sent for approval") {
			t.Errorf("flash %q", got)
		}
		if n, _ := refunds(); n != 0 {
			t.Fatalf("the request reached Stripe %d times", n)
		}
		requestID = int64(requestCount(`SELECT id FROM refund_requests WHERE charge = 'ch_appr' AND status = 'pending'`))
	})
	if requestID == 0 {
		t.Fatal("no request was made")
	}

	t.Run("the asker cannot approve it", func(t *testing.T) {
		row := `[data-testid="requests-open"] [data-testid="request-row"]`
		if got := tabA.Text(t, row+` [data-testid="request-amount"]`); got != "$600.00" {
			t.Errorf("request amount %q", got)
		}
		if got := tabA.Text(t, row+` [data-testid="request-customer"]`); got != "Grace <b>Hopper</b>" {
			t.Errorf("customer shown as %q", got)
		}
		if got := tabA.Text(t, row+` [data-testid="request-own"]`); !strings.Contains(got, "Another person must approve") {
			t.Errorf("own-request notice %q", got)
		}
		if n := browsertest.Get(t, tabA, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="request-approve"]').length`)); n != 0 {
			t.Errorf("the asker is shown %d Approve buttons", n)
		}
		if got := tabA.Text(t, `[data-testid="main-nav"] a[href="/refunds/requests"]`); got != "Refund requests (1)" {
			t.Errorf("menu entry %q", got)
		}
		tabA.Screenshot(t, "asker-requests")
		// A forged approval from the asker's own page (same origin, their
		// session): refused, nothing changes.
		status := browsertest.Get(t, tabA, chromedp.Evaluate[int](
			`fetch("/refunds/requests/`+strconv.FormatInt(requestID, 10)+`/approve", {method: "POST"}).then(r => r.status)`,
			chromedp.EvalAwaitPromise))
		if status != http.StatusForbidden {
			t.Errorf("a forged self-approval answered %d, want 403", status)
		}
		if n, _ := refunds(); n != 0 {
			t.Errorf("the forged approval reached Stripe")
		}
		if n := requestCount(`SELECT count(*) FROM audit_log WHERE action = 'refund.approve'`); n != 0 {
			t.Errorf("%d approval audit rows after a refused approval", n)
		}
		if n := requestCount(`SELECT count(*) FROM refund_requests WHERE status = 'pending'`); n != 1 {
			t.Errorf("the request is no longer pending")
		}
	})

	t.Run("another support user approves", func(t *testing.T) {
		tabB := bB.Tab(t)
		signIn(t, tabB, approver)
		tabB.Run(t,
			chromedp.Navigate(base+"/refunds/requests"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-approve"]`)),
		)
		if got := tabB.Text(t, `[data-testid="request-by"]`); got != asker {
			t.Errorf("requested by %q", got)
		}
		tabB.Screenshot(t, "approver-requests")
		tabB.Run(t,
			chromedp.Click(chromedp.CSS(`[data-testid="request-approve"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="charge-detail"]`)),
		)
		n, keys := refunds()
		var key, refundID string
		if err := st.DB().QueryRow(`SELECT idempotency_key, coalesce(refund_id, '') FROM refund_requests WHERE id = $1 AND status = 'executed'`,
			requestID).Scan(&key, &refundID); err != nil {
			t.Fatalf("the request is not executed: %v", err)
		}
		if n != 1 || keys[key] != 1 {
			t.Errorf("Stripe got %v, want one refund under the request's key", keys)
		}
		if got := tabB.Text(t, `[data-testid="flash"]`); !strings.Contains(got, refundID) {
			t.Errorf("flash %q, want %s", got, refundID)
		}
		if got := tabB.Text(t, `#charge-refunds`); !strings.Contains(got, refundID) || !strings.Contains(got, "$600.00") {
			t.Errorf("the charge page's refunds: %q, want %s of $600.00", got, refundID)
		}
		if got := tabB.Text(t, `[data-testid="charge-amount-refunded"]`); got != "$600.00" {
			t.Errorf("refunded %q", got)
		}
		tabB.Screenshot(t, "approver-charge")
		if n := requestCount(`SELECT count(*) FROM audit_log WHERE action = 'refund.approve' AND actor = 'approver@example.com' AND outcome = 'ok'`); n != 1 {
			t.Errorf("%d approval audit rows, want 1", n)
		}
	})

	t.Run("the asker sees the decision", func(t *testing.T) {
		tabA.Run(t,
			chromedp.Navigate(base+"/refunds/requests"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="requests-decided"]`)),
		)
		if got := tabA.Text(t, `[data-testid="requests-decided"] [data-testid="request-decision"]`); !strings.Contains(got, "Approved by "+approver) {
			t.Errorf("decision %q", got)
		}
		tabA.Run(t, chromedp.Navigate(base+"/charges/ch_appr"), chromedp.WaitVisible(chromedp.CSS(`#charge-refunds`)))
		if got := tabA.Text(t, `[data-testid="charge-refundable"]`); got != "$400.00" {
			t.Errorf("still refundable %q", got)
		}
		tabA.Screenshot(t, "asker-charge")
		if errs := append(tabA.ConsoleErrors(), tabA.Dialogs()...); len(errs) > 0 {
			t.Errorf("console errors or dialogs: %q", errs)
		}
	})
}

func ptrTo(s string) *string { return &s }
