package handlers_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/store/storetest"
)

// sseEvent is one server-sent event as a browser sees it; a comment has
// the name ":".
type sseEvent struct{ name, data string }

// liveEnv is a server on a real HTTP listener with a signed-in viewer.
type liveEnv struct {
	t      *testing.T
	st     *store.Store
	srv    *handlers.Server
	http   *httptest.Server
	cookie *http.Cookie
}

// changeFeed is a ChangeSource the test feeds by hand.
type changeFeed chan store.ChangeNotice

func (f changeFeed) Changes() <-chan store.ChangeNotice { return f }

func newLiveEnv(t *testing.T, st *store.Store, c handlers.Config) *liveEnv {
	t.Helper()
	c.Intake, c.Ready, c.Staff, c.Mirror = st, readyFunc(alwaysReady), st, st
	e := &liveEnv{t: t, st: st, srv: handlers.New(withStaff(t, c))}
	e.http = httptest.NewUnstartedServer(e.srv)
	e.http.Config.WriteTimeout = 500 * time.Millisecond // as in production, shorter
	e.http.Config.RegisterOnShutdown(e.srv.EndLiveStreams)
	e.http.Start()
	t.Cleanup(func() {
		e.srv.EndLiveStreams() // or Close waits for the open streams
		e.http.Close()
	})

	hash, err := store.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddUser(context.Background(), "watcher@example.com", "", store.RoleViewer, hash); err != nil {
		t.Fatal(err)
	}
	resp, err := e.client().PostForm(e.http.URL+"/login", url.Values{"email": {"watcher@example.com"}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "paydesk_session" {
			e.cookie = ck
		}
	}
	if e.cookie == nil {
		t.Fatalf("sign-in: %d, no session cookie", resp.StatusCode)
	}
	return e
}

// client does not follow redirects.
func (e *liveEnv) client() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// open starts GET /live and returns the response and its events, read by
// a goroutine until the stream ends (then the channel closes).
func (e *liveEnv) open(ctx context.Context, cookie *http.Cookie) (*http.Response, <-chan sseEvent) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+"/live", nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	events := make(chan sseEvent, 4096)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					ev.data = strings.Join(data, "\n")
					events <- ev
				}
				ev, data = sseEvent{}, nil
			case strings.HasPrefix(line, ":"):
				events <- sseEvent{name: ":", data: strings.TrimSpace(line[1:])}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				data = append(data, line[len("data: "):])
			}
		}
	}()
	return resp, events
}

// waitFor reads events until one named name arrives, and returns what came
// before it.
func waitFor(t *testing.T, events <-chan sseEvent, name string, within time.Duration) (sseEvent, []sseEvent) {
	t.Helper()
	var before []sseEvent
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before %q; got %v", name, before)
			}
			if ev.name == name {
				return ev, before
			}
			before = append(before, ev)
		case <-deadline:
			t.Fatalf("no %q within %v; got %v", name, within, before)
		}
	}
}

// collect gathers the events of d.
func collect(events <-chan sseEvent, d time.Duration) []sseEvent {
	var got []sseEvent
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return got
			}
			got = append(got, ev)
		case <-deadline:
			return got
		}
	}
}

func countNamed(events []sseEvent, name string) int {
	n := 0
	for _, ev := range events {
		if ev.name == name {
			n++
		}
	}
	return n
}

func TestLiveStreamDeliversNotifiedChanges(t *testing.T) {
	st, dbURL := storetest.NewWithURL(t)
	ctx := context.Background()
	l, err := store.Listen(ctx, dbURL, store.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := newLiveEnv(t, st, handlers.Config{Changes: l})
	resp, events := e.open(ctx, e.cookie)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /live: %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	// The badge comes first, so a page is current as soon as it connects.
	waitFor(t, events, "status", 5*time.Second)

	start := time.Now()
	if err := st.InTx(ctx, func(tx *store.Store) error {
		return tx.Notify(ctx, []store.Change{{Table: "charges", ID: "ch_x"}})
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, "change-ch_x", 5*time.Second)
	waitFor(t, events, "change-charges", time.Second)
	// The bar is a second from the webhook; this measures only the
	// NOTIFY-to-browser part, so it is logged, not asserted.
	t.Logf("NOTIFY to event: %v", time.Since(start))
}

// Past the server's 30 s write timeout (here 500 ms) the stream still
// writes: the handler cleared the deadline.
func TestLiveStreamOutlivesTheWriteTimeout(t *testing.T) {
	e := newLiveEnv(t, storetest.New(t), handlers.Config{LiveOptions: handlers.LiveOptions{Heartbeat: 100 * time.Millisecond}})
	_, events := e.open(context.Background(), e.cookie)
	time.Sleep(900 * time.Millisecond)
	got := collect(events, 500*time.Millisecond)
	if countNamed(got, ":") == 0 {
		t.Fatalf("no heartbeat after the write timeout; got %v", got)
	}
	for _, ev := range got {
		if ev.name == ":" && ev.data != "heartbeat" {
			t.Errorf("comment %q, want heartbeat", ev.data)
		}
	}
}

func TestLiveStreamCoalescesBursts(t *testing.T) {
	feed := make(changeFeed)
	e := newLiveEnv(t, storetest.New(t), handlers.Config{Changes: feed, LiveOptions: handlers.LiveOptions{Coalesce: 300 * time.Millisecond}})
	_, events := e.open(context.Background(), e.cookie)
	waitFor(t, events, "status", 5*time.Second)
	ids := []string{"ch_1", "ch_2", "in_1"}
	tables := []string{"charges", "charges", "invoices"}
	// 3,000 changes in about 30 ms, in bursts of 100 as a busy NOTIFY
	// connection delivers them.
	for i := range 3000 {
		feed <- store.ChangeNotice{Change: store.Change{Table: tables[i%3], ID: ids[i%3]}}
		if i%100 == 99 {
			time.Sleep(time.Millisecond)
		}
	}
	// Names outside [A-Za-z0-9_-] are never sent.
	feed <- store.ChangeNotice{Change: store.Change{Table: "charges", ID: "ch_<script>\nevent: x"}}
	got := collect(events, 1500*time.Millisecond)
	for _, name := range []string{"change-ch_1", "change-ch_2", "change-in_1", "change-charges", "change-invoices"} {
		if n := countNamed(got, name); n != 1 {
			t.Errorf("%s sent %d times, want once: %v", name, n, got)
		}
	}
	for _, ev := range got {
		if strings.Contains(ev.name, "script") || ev.name == "x" {
			t.Errorf("sent an unsafe name %q", ev.name)
		}
	}
	if n := countNamed(got, "resync"); n != 0 {
		t.Errorf("%d resyncs for a burst the stream kept up with", n)
	}
}

// A resync from the feed (the listener reconnected) reaches the browser
// as "resync" and every table's change event.
func TestLiveStreamResync(t *testing.T) {
	feed := make(changeFeed)
	e := newLiveEnv(t, storetest.New(t), handlers.Config{Changes: feed, LiveOptions: handlers.LiveOptions{Coalesce: 50 * time.Millisecond}})
	_, events := e.open(context.Background(), e.cookie)
	waitFor(t, events, "status", 5*time.Second)
	feed <- store.ChangeNotice{Resync: true}
	ev, before := waitFor(t, events, "resync", 5*time.Second)
	if !strings.Contains(ev.data, "behind-badge") && !strings.Contains(ev.data, "mirror-current") {
		t.Errorf("resync data %q, want the badge", ev.data)
	}
	for _, table := range []string{"customers", "invoices", "charges", "refunds"} {
		if countNamed(before, "change-"+table) != 1 {
			t.Errorf("no change-%s before the resync: %v", table, before)
		}
	}
}

func TestLiveStreamNeedsASession(t *testing.T) {
	e := newLiveEnv(t, storetest.New(t), handlers.Config{})
	resp, _ := e.open(context.Background(), nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("anonymous GET /live: %d %q, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// A stream whose session ends (here: signed out elsewhere) says so and
// ends at its next check.
func TestLiveStreamEndsWithItsSession(t *testing.T) {
	e := newLiveEnv(t, storetest.New(t), handlers.Config{LiveOptions: handlers.LiveOptions{SessionCheck: 100 * time.Millisecond}})
	_, events := e.open(context.Background(), e.cookie)
	waitFor(t, events, "status", 5*time.Second)
	// Open a while: the checks so far find the session live.
	if got := collect(events, 400*time.Millisecond); countNamed(got, "signed-out") != 0 {
		t.Fatalf("signed out while the session is live: %v", got)
	}
	if _, err := e.st.DB().ExecContext(context.Background(), `DELETE FROM sessions`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, "signed-out", 5*time.Second)
	select {
	case _, ok := <-events:
		if ok {
			// Anything else must be followed by the end.
			for range events {
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end after signed-out")
	}
}

// The stream's session checks do not count as use: a page left open does
// not keep its session from going idle.
func TestLiveStreamDoesNotKeepTheSessionAlive(t *testing.T) {
	e := newLiveEnv(t, storetest.New(t), handlers.Config{LiveOptions: handlers.LiveOptions{SessionCheck: 50 * time.Millisecond}})
	ctx := context.Background()
	var before time.Time
	if err := e.st.DB().GetContext(ctx, &before, `UPDATE sessions SET last_seen_at = now() - interval '10 minutes' RETURNING last_seen_at`); err != nil {
		t.Fatal(err)
	}
	_, events := e.open(ctx, e.cookie) // the guard's own look-up touches it once
	waitFor(t, events, "status", 5*time.Second)
	var touched time.Time
	if err := e.st.DB().GetContext(ctx, &touched, `SELECT last_seen_at FROM sessions`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.DB().ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1`, before); err != nil {
		t.Fatal(err)
	}
	collect(events, 300*time.Millisecond) // several checks
	var after time.Time
	if err := e.st.DB().GetContext(ctx, &after, `SELECT last_seen_at FROM sessions`); err != nil {
		t.Fatal(err)
	}
	if !after.Equal(before) {
		t.Errorf("last_seen_at moved from %v to %v while only the stream was open", before, after)
	}
}

// Shutdown is not held up by open streams: they end at once.
func TestLiveStreamEndsOnShutdown(t *testing.T) {
	e := newLiveEnv(t, storetest.New(t), handlers.Config{})
	_, events := e.open(context.Background(), e.cookie)
	waitFor(t, events, "status", 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.http.Config.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v with a stream open", d)
	}
	select {
	case _, ok := <-events:
		for ok {
			_, ok = <-events
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end on shutdown")
	}
	// A stream opened after the stop is refused, so the browser retries
	// elsewhere.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/live", nil)
	req.AddCookie(e.cookie)
	e.srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /live after the stop: %d, want 503", rec.Code)
	}
}

// insertEvents adds webhook events to the queue in the given states.
func insertEvents(t *testing.T, st *store.Store, rows string) {
	t.Helper()
	if _, err := st.DB().ExecContext(context.Background(),
		`INSERT INTO events (id, type, created, livemode, data, source, status, received_at) VALUES `+rows); err != nil {
		t.Fatal(err)
	}
}

func TestBehindBadge(t *testing.T) {
	st := storetest.New(t)
	e := newLiveEnv(t, st, handlers.Config{LiveOptions: handlers.LiveOptions{StatusEvery: 100 * time.Millisecond}})
	page := func() *goquery.Document {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/", nil)
		req.AddCookie(e.cookie)
		resp, err := e.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if doc.Find(`body[sse-connect="/live"][hx-ext="sse"]`).Length() != 1 {
			t.Fatalf("the signed-in page does not connect to /live")
		}
		return doc
	}

	// A synced mirror with nothing queued: no badge.
	if _, err := st.DB().ExecContext(context.Background(),
		`INSERT INTO sync_runs (livemode, objects, until, finished_at, status) VALUES (false, '{charges}', now(), now(), 'done')`); err != nil {
		t.Fatal(err)
	}
	doc := page()
	if doc.Find(`[data-testid="behind-badge"]`).Length() != 0 {
		t.Errorf("badge shown with nothing behind: %s", doc.Find(`[data-testid="mirror-status"]`).Text())
	}
	if doc.Find(`#mirror-status[sse-swap] [data-testid="mirror-current"]`).Length() != 1 {
		t.Error("no up-to-date line in the status slot")
	}
	_, events := e.open(context.Background(), e.cookie)
	first, _ := waitFor(t, events, "status", 5*time.Second)
	if strings.Contains(first.data, "behind-badge") {
		t.Errorf("first status event shows the badge: %q", first.data)
	}

	// Events stuck in the queue and failed ones: the badge, on the page
	// and pushed to the open stream.
	insertEvents(t, st, `
 ('evt_1', 'charge.updated', 1, false, '{}', 'webhook', 'queued', now() - interval '10 minutes'),
 ('evt_2', 'charge.updated', 1, false, '{}', 'webhook', 'queued', now()),
 ('evt_3', 'charge.updated', 1, false, '{}', 'webhook', 'failed', now()),
 ('evt_4', 'charge.updated', 1, false, '{}', 'webhook', 'applied', now())`)
	// The state is cached for StatusEvery, and the open stream refreshes
	// that cache too, possibly just before the events went in: the page
	// shows the badge once the cache holds a state read after them.
	var badge *goquery.Selection
	for deadline := time.Now().Add(5 * time.Second); ; {
		time.Sleep(100 * time.Millisecond)
		doc = page()
		badge = doc.Find(`#mirror-status [data-testid="behind-badge"]`)
		if badge.Length() == 1 || time.Now().After(deadline) {
			break
		}
	}
	if badge.Length() != 1 {
		t.Fatalf("no badge with events queued and failed: %q", doc.Find(`[data-testid="mirror-status"]`).Text())
	}
	if q := badge.Find(`[data-testid="behind-queued"]`).Text(); !strings.Contains(q, "2 events queued") || !strings.Contains(q, "10 min") {
		t.Errorf("queued part %q, want 2 events queued, oldest 10 min", q)
	}
	if f := badge.Find(`[data-testid="behind-failed"]`).Text(); !strings.Contains(f, "1 event failed") {
		t.Errorf("failed part %q, want 1 event failed", f)
	}
	ev, _ := waitFor(t, events, "status", 5*time.Second)
	if !strings.Contains(ev.data, "behind-badge") || !strings.Contains(ev.data, "2 events queued") {
		t.Errorf("status event %q, want the badge", ev.data)
	}
	if strings.Contains(ev.data, "\n") {
		// Several data: lines are fine on the wire; the browser joins them.
		t.Logf("badge spans %d data lines", strings.Count(ev.data, "\n")+1)
	}

	// Once applied, the badge goes away again on the stream.
	if _, err := st.DB().ExecContext(context.Background(), `UPDATE events SET status = 'applied'`); err != nil {
		t.Fatal(err)
	}
	ev, _ = waitFor(t, events, "status", 5*time.Second)
	if strings.Contains(ev.data, "behind-badge") || !strings.Contains(ev.data, "mirror-current") {
		t.Errorf("status event %q after the queue drained, want the up-to-date line", ev.data)
	}
}

// The sign-in page does not connect to the stream or show the badge.
func TestLoginPageHasNoLiveStream(t *testing.T) {
	e := newLiveEnv(t, storetest.New(t), handlers.Config{})
	resp, err := e.client().Get(e.http.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Find("[sse-connect]").Length() != 0 || doc.Find("#mirror-status").Length() != 0 {
		t.Error("the sign-in page connects to /live or shows the badge")
	}
	if doc.Find(`script[src="/static/htmx-ext-sse.js"]`).Length() != 0 {
		t.Error("the sign-in page loads the SSE extension")
	}
}
