package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"paydesk/handlers"
	"paydesk/handlers/browsertest"
	"paydesk/store"
)

// In a real browser signed in as an admin: a form on another origin (here
// another port of the same host, which browsers call same-site, so the
// SameSite=Lax cookie is even sent along) posts to paydesk and is refused;
// the same action from paydesk's own page goes through.
func TestBrowserCrossSiteFormPostIsRefused(t *testing.T) {
	b := browsertest.New(t)
	e := newStaffEnv(t, handlers.Config{})
	app := httptest.NewServer(e.srv)
	defer func() {
		e.srv.EndLiveStreams() // the signed-in page's /live stream, or Close waits for it
		app.Close()
	}()
	victim := e.users[store.RoleSupport]
	disable := fmt.Sprintf("%s/admin/users/%d/disable", app.URL, victim.ID)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>win a prize</title>
<form method="post" action="%s"><button id="go" type="submit">Claim your prize</button></form>`, disable)
	}))
	defer evil.Close()

	tab := b.Tab(t)
	tab.Run(t,
		chromedp.Navigate(app.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), e.users[store.RoleAdmin].Email),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid="login-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-email"]`)),
	)
	if got := tab.Text(t, `[data-testid="user-email"]`); got != e.users[store.RoleAdmin].Email {
		t.Fatalf("signed in as %q", got)
	}

	disabled := func() bool {
		u, err := e.st.User(context.Background(), victim.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u.Disabled
	}
	tab.Run(t, chromedp.Navigate(evil.URL))
	// RunResponse waits for the navigation the click starts.
	ctx, cancel := context.WithTimeout(tab.Ctx, browsertest.RunTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#go")))
	if err != nil {
		t.Fatalf("submitting the cross-site form: %v", err)
	}
	if body := tab.Text(t, "body"); resp.Status != http.StatusForbidden || !strings.Contains(body, "cross-origin request refused") {
		t.Fatalf("the cross-site post was answered %d: %q", resp.Status, body)
	}
	tab.Screenshot(t, "cross-site-refused")
	if disabled() {
		t.Fatal("a cross-site form disabled a user")
	}

	tab.Run(t,
		chromedp.Navigate(app.URL+"/admin/users"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid="user-row-%d"] [data-testid="disable-form"] button`, victim.ID))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-testid="user-row-%d"] [data-testid="enable-form"]`, victim.ID))),
	)
	tab.Screenshot(t, "same-site-accepted")
	if !disabled() {
		t.Fatal("the same-origin form did not disable the user")
	}
	if n := e.auditCount("user.disable"); n != 1 {
		t.Fatalf("%d audit rows for one disable", n)
	}
}
