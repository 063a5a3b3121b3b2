package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"paydesk/handlers/browsertest"
	"paydesk/store"
	"paydesk/store/money"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
)

// The dashboard in a real browser against a real `paydesk serve`: a seeded
// mirror, objects with hostile text delivered as signed webhooks, and the
// live path from a webhook through the worker, NOTIFY and server-sent
// events to an open page. Each step saves a screenshot under
// testoutput/browser/.
func TestDashboardInBrowser(t *testing.T) {
	b := browsertest.New(t)
	d := startDashboard(t)

	// Objects whose text is hostile, delivered the real way.
	hostileName := "<script>window.__xss=1</script>Zoë 🙂 \u202Egnp.exe"
	hostileDesc := `<img src=x onerror="window.__xss=2"><b>bold</b> مرحبا`
	now := time.Now().Unix()
	d.deliver(t, "customer.created", now, map[string]any{
		"id": "cus_hostile0001", "object": "customer", "created": now, "livemode": false,
		"email": "mallory@example.com", "name": hostileName, "description": hostileDesc,
		"currency": "usd", "balance": 0, "delinquent": false,
		"metadata": map[string]any{"note": `<svg onload="window.__xss=3">`},
	})
	charge := d.objectOf(t, "charges", d.anyID(t, `SELECT id FROM charges WHERE status = 'succeeded' AND NOT refunded AND amount_refunded = 0 LIMIT 1`))
	charge["id"], charge["customer"], charge["created"] = "ch_hostile0001", "cus_hostile0001", now
	charge["description"] = hostileDesc
	charge["invoice"] = nil
	if bd, ok := charge["billing_details"].(map[string]any); ok {
		bd["name"] = hostileName
	}
	d.deliver(t, "charge.succeeded", now, charge)
	d.waitFor(t, `SELECT count(*) FROM charges WHERE id = 'ch_hostile0001'`)
	d.waitFor(t, `SELECT count(*) FROM customers WHERE id = 'cus_hostile0001'`)

	tab := b.Tab(t)
	noScriptRan := func(t *testing.T, where string) {
		t.Helper()
		if v := browsertest.Get(t, tab, chromedp.Evaluate[string](`String(window.__xss)`)); v != "undefined" {
			t.Errorf("%s: injected script ran (window.__xss = %s)", where, v)
		}
		if dl := tab.Dialogs(); len(dl) > 0 {
			t.Errorf("%s: dialogs opened: %q", where, dl)
		}
	}

	t.Run("sign in", func(t *testing.T) {
		tab.Run(t,
			chromedp.Navigate(d.base+"/"),
			chromedp.WaitVisible(chromedp.CSS(`input[name="email"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), d.email),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), d.password),
			chromedp.Click(chromedp.CSS(`[data-testid="login-form"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-email"]`)),
		)
		if got := tab.Text(t, `[data-testid="user-email"]`); got != d.email {
			t.Fatalf("signed in as %q", got)
		}
		tab.Screenshot(t, "dashboard-overview")
	})

	lists := map[string]string{"customers": "customers", "invoices": "invoices", "charges": "charges", "refunds": "refunds"}
	t.Run("every list", func(t *testing.T) {
		for _, name := range []string{"customers", "invoices", "charges", "refunds"} {
			tab.Run(t,
				chromedp.Navigate(d.base+"/"+name),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="`+lists[name]+`-table"] [data-testid="list-row"]`)),
			)
			rows := browsertest.Get(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="list-row"]').length`))
			want := min(d.count(t, "SELECT count(*) FROM "+name+listDefault[name]), store.DefaultListLimit)
			if rows != want {
				t.Errorf("/%s shows %d rows, want %d", name, rows, want)
			}
			if tab.Text(t, `[data-testid="list-totals"]`) == "" {
				t.Errorf("/%s shows no totals", name)
			}
			// Every control has a label, there is one h1, and headings do
			// not skip a level.
			if bad := browsertest.Get(t, tab, chromedp.Evaluate[[]string](a11yProblems)); len(bad) > 0 {
				t.Errorf("/%s: %q", name, bad)
			}
			tab.Screenshot(t, "dashboard-list-"+name)
		}
		noScriptRan(t, "lists")
	})

	t.Run("filter, search, page and go back", func(t *testing.T) {
		firstID := func() string {
			return browsertest.Get(t, tab, chromedp.Evaluate[string](`document.querySelector('[data-testid="list-row"]').dataset.id`))
		}
		tab.Run(t,
			chromedp.Navigate(d.base+"/charges"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="page-next"]`)),
		)
		page1 := firstID()
		// Page forward, then back with the "Previous" link: the same rows.
		tab.Run(t, chromedp.Click(chromedp.CSS(`[data-testid="page-next"]`)))
		waitURL(t, tab, "after=")
		page2 := firstID()
		if page2 == page1 {
			t.Fatalf("the next page starts with the same charge %s", page1)
		}
		tab.Run(t, chromedp.Click(chromedp.CSS(`[data-testid="page-prev"]`)))
		waitURL(t, tab, "before=")
		if got := firstID(); got != page1 {
			t.Errorf("Previous shows a page starting with %s, want %s", got, page1)
		}
		// A status tab: every row is failed, and the URL says so.
		tab.Run(t, chromedp.Click(chromedp.CSS(`[data-testid="status-tabs"] a[href*="status=failed"]`)))
		waitURL(t, tab, "status=failed")
		poll(t, tab, chromedp.Poll[bool](`!!document.querySelector('[data-testid="status-tabs"] a[aria-current="page"][href*="status=failed"]')`))
		statuses := browsertest.Get(t, tab, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll('[data-testid="list-row"] .badge:first-of-type')].map(b => b.textContent.trim().toLowerCase())`))
		if len(statuses) == 0 {
			t.Fatal("the failed tab shows no charges")
		}
		for _, s := range statuses {
			if s != "failed" {
				t.Errorf("the failed tab shows a %q charge", s)
			}
		}
		tab.Screenshot(t, "dashboard-charges-failed")
		// Search from the filter form (real form, enhanced by htmx).
		tab.Run(t,
			chromedp.Navigate(d.base+"/charges"),
			chromedp.WaitVisible(chromedp.CSS(`#list-q`)),
			chromedp.SendKeys(chromedp.CSS(`#list-q`), "ch_hostile"),
			chromedp.Click(chromedp.CSS(`[data-testid="list-filter"] button[type="submit"]`)),
		)
		waitURL(t, tab, "q=ch_hostile")
		poll(t, tab, chromedp.Poll[bool](`document.querySelectorAll('[data-testid="list-row"]').length === 1`))
		if got := firstID(); got != "ch_hostile0001" {
			t.Errorf("search found %s", got)
		}
		if txt := tab.Text(t, `[data-testid="charges-table"]`); !strings.Contains(txt, "<script>window.__xss=1</script>") {
			t.Errorf("the hostile billing name is not shown as text: %q", txt)
		}
		tab.Screenshot(t, "dashboard-charges-search")
		noScriptRan(t, "charge search")
		// The back button returns to the unfiltered list.
		// htmx keeps no history cache, so Back reloads the earlier URL.
		tab.Run(t, chromedp.NavigateBack(), chromedp.Sleep(300*time.Millisecond),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="page-next"]`)))
		if loc := browsertest.Get(t, tab, chromedp.Location()); strings.Contains(loc, "q=") {
			t.Errorf("after Back the URL is %s, want the list without the search", loc)
		}
		if got := browsertest.Get(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="list-row"]').length`)); got != store.DefaultListLimit {
			t.Errorf("after Back the list shows %d rows, want a full page", got)
		}
	})

	t.Run("reading works with JavaScript off", func(t *testing.T) {
		plain := b.Tab(t) // same browser: the session cookie comes along
		plain.Run(t,
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
				return err
			}),
			chromedp.Navigate(d.base+"/charges"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="page-next"]`)),
		)
		if v := browsertest.Get(t, plain, chromedp.Evaluate[string](`typeof window.htmx`)); v != "undefined" {
			t.Fatalf("htmx is loaded (%s): scripts are not off", v)
		}
		// Real links and a real GET form: each is a whole new page.
		plain.Run(t, chromedp.Click(chromedp.CSS(`[data-testid="page-next"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="page-prev"]`)))
		if loc := browsertest.Get(t, plain, chromedp.Location()); !strings.Contains(loc, "after=") {
			t.Errorf("Next led to %s", loc)
		}
		plain.Run(t,
			chromedp.Click(chromedp.CSS(`[data-testid="status-tabs"] a[href*="status=refunded"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="status-tabs"] a[aria-current="page"][href*="status=refunded"]`)),
			chromedp.SendKeys(chromedp.CSS(`#list-q`), "visa"),
			chromedp.Submit(chromedp.CSS(`#list-q`)),
			// Typing sets the old page's input property, not its value
			// attribute: only the page the form led to has it in its HTML.
			chromedp.WaitVisible(chromedp.CSS(`#list-q[value="visa"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="list-totals"]`)),
		)
		if loc := browsertest.Get(t, plain, chromedp.Location()); !strings.Contains(loc, "status=refunded") || !strings.Contains(loc, "q=visa") {
			t.Errorf("the filter form led to %s, want the tab and the search in the URL", loc)
		}
		plain.Screenshot(t, "dashboard-no-javascript")
	})

	t.Run("every detail page", func(t *testing.T) {
		pages := []struct{ path, testID string }{
			{"/customers/cus_hostile0001", "customer-detail"},
			{"/invoices/" + d.anyID(t, `SELECT invoice FROM invoice_lines GROUP BY invoice HAVING count(*) > 1 LIMIT 1`), "invoice-detail"},
			{"/charges/" + d.anyID(t, `SELECT charge FROM refunds LIMIT 1`), "charge-detail"},
			{"/refunds/" + d.anyID(t, `SELECT id FROM refunds LIMIT 1`), "refund-detail"},
		}
		for _, p := range pages {
			tab.Run(t, chromedp.Navigate(d.base+p.path), chromedp.WaitVisible(chromedp.CSS(`[data-testid="`+p.testID+`"]`)))
			tab.Screenshot(t, "dashboard-detail-"+strings.Split(p.path, "/")[1])
		}
		// The hostile customer's page shows its text as text.
		tab.Run(t, chromedp.Navigate(d.base+"/customers/cus_hostile0001"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="customer-detail"]`)))
		body := tab.Text(t, "main")
		for _, want := range []string{"<script>window.__xss=1</script>", `<img src=x onerror="window.__xss=2">`, `<svg onload="window.__xss=3">`, "🙂", "مرحبا"} {
			if !strings.Contains(body, want) {
				t.Errorf("the customer page does not show %q as text", want)
			}
		}
		noScriptRan(t, "detail pages")
	})

	t.Run("CSV export", func(t *testing.T) {
		tab.Run(t,
			chromedp.Navigate(d.base+"/charges?status=succeeded&currency=usd"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="csv-link"]`)),
		)
		href := browsertest.Get(t, tab, chromedp.Evaluate[string](`document.querySelector('[data-testid="csv-link"]').href`))
		if !strings.Contains(href, "/charges.csv?") || !strings.Contains(href, "status=succeeded") {
			t.Fatalf("export link %q", href)
		}
		text := browsertest.Get(t, tab, chromedp.Evaluate[string](
			`fetch(`+jsString(href)+`).then(r => r.ok ? r.text() : Promise.reject(r.status))`, chromedp.EvalAwaitPromise))
		records, err := csv.NewReader(strings.NewReader(text)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := d.count(t, `SELECT count(*) FROM charges WHERE status = 'succeeded' AND currency = 'usd'`)
		if len(records)-1 != want {
			t.Fatalf("the export has %d rows, want %d", len(records)-1, want)
		}
		col := map[string]int{}
		for i, h := range records[0] {
			col[h] = i
		}
		for _, h := range []string{"id", "amount", "currency"} {
			if _, ok := col[h]; !ok {
				t.Fatalf("the export has no %q column: %q", h, records[0])
			}
		}
		for _, rec := range records[1:] {
			var amount int64
			if err := d.st.DB().Get(&amount, `SELECT amount FROM charges WHERE id = $1`, rec[col["id"]]); err != nil {
				t.Fatalf("row %q: %v", rec, err)
			}
			if rec[col["amount"]] != money.Major(amount, "usd") || rec[col["currency"]] != "USD" {
				t.Errorf("row %s: amount %s %s, want %s USD", rec[col["id"]], rec[col["amount"]], rec[col["currency"]], money.Major(amount, "usd"))
			}
		}
		tab.Screenshot(t, "dashboard-csv-export")
	})

	t.Run("a webhook updates an open list and detail page", func(t *testing.T) {
		tab.Run(t,
			chromedp.Navigate(d.base+"/charges"),
			chromedp.WaitVisible(chromedp.CSS(`#row-ch_hostile0001`)),
		)
		waitLive(t, tab)
		browsertest.Get(t, tab, chromedp.Evaluate[string](`window.__samePage = "yes"`))
		refunded := d.objectOf(t, "charges", "ch_hostile0001")
		refunded["amount_refunded"], refunded["refunded"] = refunded["amount"], true
		d.deliver(t, "charge.refunded", now+10, refunded)
		poll(t, tab, chromedp.Poll[bool](`document.querySelector('#row-ch_hostile0001')?.textContent.toLowerCase().includes("refunded")`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if v := browsertest.Get(t, tab, chromedp.Evaluate[string](`String(window.__samePage)`)); v != "yes" {
			t.Fatal("the list was reloaded instead of updated in place")
		}
		tab.Screenshot(t, "dashboard-live-list")

		tab.Run(t,
			chromedp.Navigate(d.base+"/charges/ch_hostile0001"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="charge-detail"]`)),
		)
		waitLive(t, tab)
		browsertest.Get(t, tab, chromedp.Evaluate[string](`window.__samePage = "yes"`))
		refunded["description"] = "Updated live ✓"
		d.deliver(t, "charge.updated", now+20, refunded)
		poll(t, tab, chromedp.Poll[bool](`document.querySelector('main').textContent.includes("Updated live ✓")`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if v := browsertest.Get(t, tab, chromedp.Evaluate[string](`String(window.__samePage)`)); v != "yes" {
			t.Fatal("the detail page was reloaded instead of updated in place")
		}
		tab.Screenshot(t, "dashboard-live-detail")
		noScriptRan(t, "live updates")
	})
}

// a11yProblems lists what a page gets wrong of a few checkable
// accessibility basics.
const a11yProblems = `(() => {
	const out = [];
	for (const c of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
		if (!(c.labels && c.labels.length) && !c.getAttribute("aria-label") && !c.getAttribute("aria-labelledby")) {
			out.push("unlabelled " + c.outerHTML.slice(0, 80));
		}
	}
	const h1 = document.querySelectorAll("h1").length;
	if (h1 !== 1) out.push(h1 + " h1 elements");
	let last = 0;
	for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
		const level = +h.tagName[1];
		if (level > last + 1) out.push("heading skips to " + h.tagName + ": " + h.textContent.trim());
		last = level;
	}
	return out;
})()`

// listDefault is the condition of each list's default tab.
var listDefault = map[string]string{
	"customers": " WHERE NOT deleted", "invoices": " WHERE NOT deleted", "charges": "", "refunds": "",
}

// dashboard is a seeded `paydesk serve` and an admin to sign in with.
type dashboard struct {
	st              *store.Store
	base            string
	email, password string
}

const dashboardSecret = "whsec_dashboard_browser"

func startDashboard(t *testing.T) *dashboard {
	t.Helper()
	st, dbURL := storetest.NewWithURL(t)
	env := map[string]string{
		"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": "sk_test_123",
		// Every event here is settled by its own payload; nothing may
		// reach for Stripe.
		"STRIPE_API_BASE": "http://127.0.0.1:1", "STRIPE_WEBHOOK_SECRET": dashboardSecret,
		"SESSION_SECRET": strings.Repeat("k", 40),
	}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	if r := paydesk(t, env, "seed", "--customers", "40", "--invoices", "120", "--charges", "160", "--refunds", "25"); r.code != 0 {
		t.Fatalf("seed: %+v", r)
	}
	d := &dashboard{st: st, email: "finance-admin@example.com", password: "dashboard-browser-password"}
	add := processFor(env, "user", "add", "--email", d.email, "--role", "admin")
	add.Stdin = strings.NewReader(d.password + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	d.base = startServe(t, env).base
	return d
}

// deliver sends obj in a signed event of type typ created at created.
func (d *dashboard) deliver(t *testing.T, typ string, created int64, obj map[string]any) {
	t.Helper()
	id := fmt.Sprintf("evt_browser_%d", time.Now().UnixNano())
	body, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": stripeapi.APIVersion,
		"created": created, "livemode": false, "type": typ, "data": map[string]any{"object": obj}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, d.base+"/webhooks/stripe", strings.NewReader(string(body)))
	req.Header.Set("Stripe-Signature", stripeapi.SignWebhook(body, dashboardSecret, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook %s: %s", typ, resp.Status)
	}
}

// objectOf is the stored Stripe object of id in table.
func (d *dashboard) objectOf(t *testing.T, table, id string) map[string]any {
	t.Helper()
	var raw []byte
	if err := d.st.DB().Get(&raw, `SELECT data FROM `+table+` WHERE id = $1`, id); err != nil {
		t.Fatalf("%s %s: %v", table, id, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (d *dashboard) anyID(t *testing.T, query string) string {
	t.Helper()
	var id string
	if err := d.st.DB().Get(&id, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return id
}

func (d *dashboard) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := d.st.DB().Get(&n, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitFor waits until query counts a row: the worker applied the event.
func (d *dashboard) waitFor(t *testing.T, query string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for d.count(t, query) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not applied within 15 s: %s", query)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// poll runs a chromedp.Poll until its expression holds.
func poll(t *testing.T, tab *browsertest.Tab, action chromedp.Action[bool]) {
	t.Helper()
	browsertest.Get(t, tab, action)
}

// waitURL waits until the tab's URL holds part (htmx pushes it after a
// swap).
func waitURL(t *testing.T, tab *browsertest.Tab, part string) {
	t.Helper()
	poll(t, tab, chromedp.Poll[bool](`decodeURIComponent(location.href).includes(`+jsString(part)+`)`,
		chromedp.WithPollingTimeout(10*time.Second)))
}

// waitLive waits until the page's server-sent event stream is open, so a
// change made now reaches it.
func waitLive(t *testing.T, tab *browsertest.Tab) {
	t.Helper()
	poll(t, tab, chromedp.Poll[bool](`(() => { const el = document.querySelector("[sse-connect]");
		const src = el && window.htmx && el["htmx-internal-data"] && el["htmx-internal-data"].sseEventSource;
		return !!src && src.readyState === 1 })()`, chromedp.WithPollingTimeout(10*time.Second)))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
