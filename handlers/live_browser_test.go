package handlers_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"paydesk/handlers"
	"paydesk/handlers/browsertest"
	"paydesk/store"
	"paydesk/store/storetest"
)

// In a real browser: a signed-in page connects to GET /live through the
// vendored SSE extension (under the Content-Security-Policy), an element
// following a change re-fetches itself when store.Notify announces it, and
// the badge appears when events fail, all without a reload.
func TestBrowserLiveUpdates(t *testing.T) {
	b := browsertest.New(t)
	st, dbURL := storetest.NewWithURL(t)
	ctx := context.Background()
	l, err := store.Listen(ctx, dbURL, store.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := st.DB().ExecContext(ctx,
		`INSERT INTO sync_runs (livemode, objects, until, finished_at, status) VALUES (false, '{charges}', now(), now(), 'done')`); err != nil {
		t.Fatal(err)
	}
	e := newLiveEnv(t, st, handlers.Config{Changes: l, LiveOptions: handlers.LiveOptions{StatusEvery: 200 * time.Millisecond}})

	tab := b.Tab(t)
	tab.Run(t,
		chromedp.Navigate(e.http.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), "watcher@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), testPassword),
		chromedp.Click(chromedp.CSS(`[data-testid="login-form"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-email"]`)),
		chromedp.WaitReady(chromedp.CSS(`#mirror-status [data-testid="mirror-current"]`)),
	)
	// A marker that a reload would wipe, and an element that follows the
	// object ch_probe as list rows do (views.LiveRow), answered by /healthz.
	browsertest.Get(t, tab, chromedp.Evaluate[bool](`(() => {
		window.paydeskNoReload = true;
		const probe = document.createElement('div');
		probe.id = 'probe';
		probe.setAttribute('hx-get', '/healthz');
		probe.setAttribute('hx-trigger', 'sse:change-ch_probe');
		probe.textContent = 'waiting';
		document.querySelector('main').appendChild(probe);
		htmx.process(probe);
		return true;
	})()`))
	// The stream is open once the first status event has been swapped in;
	// give the browser a moment to connect before announcing the change.
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := st.Notify(ctx, []store.Change{{Table: "charges", ID: "ch_probe"}}); err != nil {
		t.Fatal(err)
	}
	got := browsertest.Get(t, tab, chromedp.Poll[string](`(() => { const t = document.getElementById('probe').textContent.trim(); return t !== 'waiting' ? t : null })()`))
	t.Logf("NOTIFY to swapped element: %v", time.Since(start))
	if got == "" || got == "waiting" {
		t.Fatalf("the probe was not refreshed: %q", got)
	}

	if _, err := st.DB().ExecContext(ctx, `INSERT INTO events (id, type, created, livemode, data, source, status)
VALUES ('evt_failed', 'charge.updated', 1, false, '{}', 'webhook', 'failed')`); err != nil {
		t.Fatal(err)
	}
	tab.Run(t, chromedp.WaitVisible(chromedp.CSS(`header #mirror-status [data-testid="behind-badge"]`)))
	if text := tab.Text(t, `[data-testid="behind-failed"]`); text == "" {
		t.Error("the badge does not name the failed event")
	}
	if !browsertest.Get(t, tab, chromedp.Evaluate[bool](`window.paydeskNoReload === true`)) {
		t.Error("the page reloaded")
	}
	tab.Screenshot(t, "behind-badge")
	if errs := tab.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
