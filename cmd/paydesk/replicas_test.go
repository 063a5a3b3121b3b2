package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paydesk/store/storetest"
	"paydesk/stripeapi/stripefake"
)

// Several replicas: two `paydesk serve` processes on one PostgreSQL, as
// README.md "Running several replicas" describes. The queue (SKIP LOCKED),
// the live updates (LISTEN/NOTIFY), sessions and the backfill's lock are
// all in PostgreSQL, so what one replica receives, applies or signs in is
// seen by the other.

const replicaPassword = "replica watcher password"

// liveStream is an open GET /live: the event names received so far.
type liveStream struct {
	mu     sync.Mutex
	names  []string
	seen   map[string]bool
	ended  bool
	notify chan struct{} // signalled on each event
}

func (l *liveStream) has(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[name]
}

func (l *liveStream) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, got := range l.names {
		if got == name {
			n++
		}
	}
	return n
}

// waitName waits until the stream has received name.
func (l *liveStream) waitName(t *testing.T, replica, name string, within time.Duration) {
	t.Helper()
	l.waitMore(t, replica, name, 0, within)
}

// waitMore waits until the stream has received name more than before times.
func (l *liveStream) waitMore(t *testing.T, replica, name string, before int, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for l.count(name) <= before {
		select {
		case <-l.notify:
		case <-deadline:
			l.mu.Lock()
			last := l.names[max(0, len(l.names)-20):]
			ended := l.ended
			l.mu.Unlock()
			t.Fatalf("the live page on replica %s got no %q within %s (stream ended: %v; last events %q)", replica, name, within, ended, last)
		}
	}
}

// openLive opens GET /live on base with the session cookie and reads its
// events until ctx ends.
func openLive(t *testing.T, ctx context.Context, base string, cookie *http.Cookie) *liveStream {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/live", nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Body.Close()
		t.Fatalf("GET %s/live: %d %s\n%s", base, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	l := &liveStream{seen: map[string]bool{}, notify: make(chan struct{}, 1)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			name, ok := strings.CutPrefix(sc.Text(), "event: ")
			if !ok {
				continue
			}
			l.mu.Lock()
			l.names = append(l.names, name)
			l.seen[name] = true
			l.mu.Unlock()
			select {
			case l.notify <- struct{}{}:
			default:
			}
		}
		l.mu.Lock()
		l.ended = true
		l.mu.Unlock()
		select {
		case l.notify <- struct{}{}:
		default:
		}
	}()
	return l
}

// replicaSignIn signs in over HTTP on base and returns the session cookie.
func replicaSignIn(t *testing.T, base, email string) *http.Cookie {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/login", url.Values{"email": {email}, "password": {replicaPassword}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "paydesk_session" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("sign in on %s: %d, no session cookie\n%.2000s", base, resp.StatusCode, body)
	return nil
}

// overviewWith fetches / on base with cookie and reports whether it was
// the signed-in overview (not a redirect to /login).
func overviewWith(t *testing.T, base string, cookie *http.Cookie) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	req.AddCookie(cookie)
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK && strings.Contains(string(body), "Overview")
}

// markerEvent is a newer state of an object the first phase named,
// created now (after every earlier event of it), carrying its own id in
// metadata as faultEvents' events do.
func markerEvent(t *testing.T, data *stripefake.Data, like faultEvent, id, typ string) faultEvent {
	t.Helper()
	var objects []json.RawMessage
	switch like.table {
	case "charges":
		objects = data.Charges()
	case "customers":
		objects = data.Customers()
	case "invoices":
		objects = data.Invoices()
	case "refunds":
		objects = data.Refunds()
	}
	for _, raw := range objects {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatal(err)
		}
		var oid string
		_ = json.Unmarshal(obj["id"], &oid)
		if oid != like.object {
			continue
		}
		obj["metadata"] = json.RawMessage(fmt.Sprintf(`{%q:%q}`, faultMarker, id))
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		created := time.Now().Unix()
		return faultEvent{id: id, table: like.table, object: oid, created: created, body: benchEvent(id, typ, created, b)}
	}
	t.Fatalf("no %s %s in the data", like.table, like.object)
	return faultEvent{}
}

// TestReplicas runs two `paydesk serve` processes on one database, each
// with its own workers. Signed events are delivered to one or the other,
// some to both: every event is stored once and applied exactly once, and
// the mirror ends at each object's newest state. A viewer signed in on each
// replica keeps GET /live open there: every change reaches both pages,
// whichever replica received the event and whichever applied it.
func TestReplicas(t *testing.T) {
	data := faultData(31)
	st, env := faultServeEnv(t, data)
	// Replicas share the session key (else a cookie one signed is
	// refused by the other) and the display time zone.
	env["SESSION_SECRET"] = "replicas-share-this-session-secret-0123456789"
	if r := paydeskStdin(t, env, replicaPassword+"\n", "user", "add", "--email", "watcher@example.com", "--role", "viewer"); r.code != 0 {
		t.Fatalf("user add: %+v", r)
	}
	replicas := []*serving{startServe(t, env, "--workers", "2"), startServe(t, env, "--workers", "2")}
	names := []string{"A", "B"}
	defer func() {
		if t.Failed() {
			for i, s := range replicas {
				t.Logf("replica %s log:\n%s", names[i], s.log())
			}
		}
	}()

	// A viewer signs in on each replica and opens a live page there.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := make([]*liveStream, len(replicas))
	for i, s := range replicas {
		cookie := replicaSignIn(t, s.base, "watcher@example.com")
		// The other replica takes the same cookie: one session store, one key.
		if other := replicas[1-i]; !overviewWith(t, other.base, cookie) {
			t.Errorf("a session signed in on replica %s is not accepted by replica %s", names[i], names[1-i])
		}
		streams[i] = openLive(t, ctx, s.base, cookie)
		// The stream subscribes before it sends the badge: after "status"
		// it misses no change.
		streams[i].waitName(t, names[i], "status", 10*time.Second)
	}

	// Phase 1: events alternate between the replicas, about one in ten is
	// delivered to both, and the senders retry like Stripe.
	events := faultEvents(data, "replicas", 400, 31)
	r := rand.New(rand.NewPCG(31, 2))
	var deliveries []delivery
	both := 0
	for i, e := range events {
		deliveries = append(deliveries, delivery{body: e.body, to: i % 2})
		if r.IntN(100) < 10 {
			deliveries = append(deliveries, delivery{body: e.body, to: 1 - i%2})
			both++
		}
	}
	r.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	c := newCourier(deliveries, replicas[0].base+"/webhooks/stripe", replicas[1].base+"/webhooks/stripe")
	defer c.stop()
	c.start(4)
	waitFor(t, 30*time.Second, "every delivery acknowledged", func() (bool, error) {
		return c.ackedCount() == len(deliveries), nil
	})
	mustBeStored(t, st, events)
	waitAllApplied(t, st, len(events), 30*time.Second)
	c.stop()

	// Each live page heard of every object the events changed: by name,
	// or by a resync (a burst too large to name refreshes every element).
	objects := map[string]bool{}
	for _, e := range events {
		objects[e.object] = true
	}
	for i, l := range streams {
		waitFor(t, 10*time.Second, "replica "+names[i]+"'s live page told of every change", func() (bool, error) {
			if l.has("resync") {
				return true, nil
			}
			missing := 0
			for id := range objects {
				if !l.has("change-" + id) {
					missing++
				}
			}
			if missing > 0 {
				return false, fmt.Errorf("no change-<id> yet for %d of the %d objects", missing, len(objects))
			}
			return true, nil
		})
		t.Logf("replica %s's live page: %d events, %d resyncs", names[i], len(l.names), l.count("resync"))
	}

	// Phase 2: one new event delivered only to A, another only to B. Both
	// live pages must get both changes by name.
	markers := []faultEvent{
		markerEvent(t, data, firstOf(t, events, "charges"), "evt_replicas_to_a", "charge.updated"),
		markerEvent(t, data, firstOf(t, events, "customers"), "evt_replicas_to_b", "customer.updated"),
	}
	for i, m := range markers {
		type counts struct{ object, table int }
		before := make([]counts, len(streams))
		for j, l := range streams {
			before[j] = counts{l.count("change-" + m.object), l.count("change-" + m.table)}
		}
		c := newCourier([]delivery{{body: m.body}}, replicas[i].base+"/webhooks/stripe")
		c.start(1)
		waitFor(t, 10*time.Second, "the marker acknowledged by replica "+names[i], func() (bool, error) { return c.ackedCount() == 1, nil })
		c.stop()
		// Both pages, the other replica's too, get the change by name.
		for j, l := range streams {
			l.waitMore(t, names[j], "change-"+m.object, before[j].object, 10*time.Second)
			l.waitMore(t, names[j], "change-"+m.table, before[j].table, time.Second)
		}
	}
	all := append(slices.Clone(events), markers...)
	waitAllApplied(t, st, len(all), 10*time.Second)
	checkEvents(t, st, all, true)
	refetched := checkMirror(t, st, all)
	for i, s := range replicas {
		if lines := errorLines(s.log()); len(lines) > 0 {
			t.Errorf("replica %s logged %d errors:\n%s", names[i], len(lines), strings.Join(lines[:min(len(lines), 20)], "\n"))
		}
	}
	t.Logf("%d events in %d deliveries (%d to both replicas) applied once each; %d objects re-fetched", len(all), len(deliveries)+2, both, refetched)
}

func firstOf(t *testing.T, events []faultEvent, table string) faultEvent {
	t.Helper()
	for _, e := range events {
		if e.table == table {
			return e
		}
	}
	t.Fatalf("no %s event", table)
	return faultEvent{}
}

// TestReplicasOneSyncAtATime starts `paydesk sync` while another holds the
// backfill's advisory lock (its Stripe requests are held up): the second
// refuses at once, with one line saying why and before asking Stripe for
// anything; once the first is done, a sync runs again.
func TestReplicasOneSyncAtATime(t *testing.T) {
	data := stripefake.Generate(templates, stripefake.Dataset{Customers: 30, Invoices: 30, Charges: 30, Refunds: 10, Seed: 32})
	var (
		held    = make(chan struct{}, 1)
		release = make(chan struct{})
	)
	srv := stripefake.NewServer(data, stripefake.Options{SecretKey: fakeKey, OnRequest: func(int64, *http.Request) {
		select {
		case held <- struct{}{}:
		default:
		}
		<-release
	}})
	defer srv.Close()
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free()
	st, dbURL := storetest.NewWithURL(t)
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": fakeKey, "STRIPE_API_BASE": srv.URL}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}

	first := processFor(env, "sync", "--rate", "0")
	var firstOut strings.Builder
	first.Stdout, first.Stderr = &firstOut, &firstOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	firstDone := make(chan error, 1)
	go func() { firstDone <- first.Wait() }()
	t.Cleanup(func() {
		if first.ProcessState == nil {
			_ = first.Process.Kill()
		}
	})
	select {
	case <-held: // the first sync holds the lock and waits on Stripe
	case err := <-firstDone:
		t.Fatalf("the first sync ended before asking Stripe: %v\n%s", err, firstOut.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("the first sync asked Stripe nothing within 30 s\n%s", firstOut.String())
	}

	// The second sync has a Stripe of its own, to tell whether it asked.
	var asked atomic.Int64
	srv2 := stripefake.NewServer(data, stripefake.Options{SecretKey: fakeKey, OnRequest: func(int64, *http.Request) { asked.Add(1) }})
	defer srv2.Close()
	env2 := maps.Clone(env)
	env2["STRIPE_API_BASE"] = srv2.URL
	second := processFor(env2, "sync", "--rate", "0")
	var out, errOut strings.Builder
	second.Stdout, second.Stderr = &out, &errOut
	secondDone := make(chan error, 1)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { secondDone <- second.Wait() }()
	select {
	case err := <-secondDone:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("second sync: %v, want exit 1", err)
		}
	case <-time.After(30 * time.Second):
		_ = second.Process.Kill()
		t.Fatalf("the second sync waited instead of refusing\nstdout %s\nstderr %s", out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimRight(errOut.String(), "\n"), "\n")
	if len(lines) != 1 || lines[0] != "paydesk sync: another paydesk sync is running against this database" {
		t.Errorf("second sync said %q, want one line saying another sync is running", errOut.String())
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the refused sync sent %d requests to Stripe", n)
	}
	var runs int
	if err := st.DB().GetContext(context.Background(), &runs, `SELECT count(*) FROM sync_runs`); err != nil {
		t.Fatal(err)
	}
	if runs != 1 {
		t.Errorf("sync_runs holds %d runs, want only the first's", runs)
	}

	free()
	select {
	case err := <-firstDone:
		if err != nil {
			t.Fatalf("first sync: %v\n%s", err, firstOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the first sync did not finish\n%s", firstOut.String())
	}
	// The lock went with the first process's connection.
	if r := paydesk(t, env, "sync", "--rate", "0"); r.code != 0 {
		t.Fatalf("a sync after the first finished: %+v", r)
	}
}
