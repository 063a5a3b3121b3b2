package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
	"paydesk/stripeapi/stripefake"
)

// Fault tests: `paydesk serve` receives signed deliveries from senders that
// behave like Stripe (anything but a 200 is delivered again later) while
// the database goes away, the process is killed, or two processes share
// one queue. Each test then checks that every acknowledged event was
// stored once and applied once, and that the mirror ends at the newest
// state of every object the events named.

const faultSecret = "whsec_cmd_fault_test"

// faultMarker is the metadata key each event's object carries with the
// event's id, so the mirror row shows which event's state it holds.
const faultMarker = "paydesk_fault_event"

// faultEvent is one generated Stripe event.
type faultEvent struct {
	id      string
	table   string // mirror table of its object
	object  string // the object's id
	created int64
	body    []byte
}

// faultData is the small account the fake Stripe API serves and the events
// are made from.
func faultData(seed int64) *stripefake.Data {
	return stripefake.Generate(templates, stripefake.Dataset{Customers: 40, Invoices: 50, Charges: 90, Refunds: 30, Seed: seed})
}

// faultEvents makes n events about the objects of data: each object gets a
// few updates with increasing created (about 5% in the same second as the
// one before, which the worker settles by re-fetching the object from the
// fake), and the stream is shuffled within windows of 32, as Stripe does
// not promise order. Each event's object carries its event id in metadata.
func faultEvents(data *stripefake.Data, prefix string, n int, seed uint64) []faultEvent {
	kinds := []struct {
		table   string
		objects []json.RawMessage
		types   []string
	}{
		{"charges", data.Charges(), []string{"charge.succeeded", "charge.updated", "charge.captured"}},
		{"invoices", data.Invoices(), []string{"invoice.created", "invoice.finalized", "invoice.paid", "invoice.updated"}},
		{"customers", data.Customers(), []string{"customer.created", "customer.updated"}},
		{"refunds", data.Refunds(), []string{"refund.created", "refund.updated", "charge.refund.updated"}},
	}
	r := rand.New(rand.NewPCG(seed, 0xfa17))
	base := time.Now().Add(-time.Hour).Unix()
	last := map[string]int64{}
	events := make([]faultEvent, 0, n)
	for i := range n {
		k := kinds[r.IntN(len(kinds))]
		if len(k.objects) == 0 {
			panic("faultEvents: the dataset has no " + k.table)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(k.objects[r.IntN(len(k.objects))], &obj); err != nil {
			panic(err)
		}
		var oid string
		if err := json.Unmarshal(obj["id"], &oid); err != nil || oid == "" {
			panic(fmt.Sprintf("faultEvents: an object without an id: %v", err))
		}
		created, seen := last[oid]
		switch {
		case !seen:
			created = base + r.Int64N(600)
		case r.IntN(100) >= 5:
			created += 1 + r.Int64N(5)
		}
		last[oid] = created
		id := fmt.Sprintf("evt_%s_%06d", prefix, i)
		obj["metadata"] = json.RawMessage(fmt.Sprintf(`{%q:%q}`, faultMarker, id))
		raw, err := json.Marshal(obj)
		if err != nil {
			panic(err)
		}
		events = append(events, faultEvent{id: id, table: k.table, object: oid, created: created,
			body: benchEvent(id, k.types[r.IntN(len(k.types))], created, raw)})
	}
	for lo := 0; lo < len(events); lo += 32 {
		w := events[lo:min(lo+32, len(events))]
		r.Shuffle(len(w), func(i, j int) { w[i], w[j] = w[j], w[i] })
	}
	return events
}

// delivery is one webhook delivery: a body sent to one of the courier's
// targets until it is answered 200.
type delivery struct {
	body []byte
	to   int
}

// outcome classifies one attempt: the fault phase when it started and when
// it ended (see courier.phase) and the answer (0 for a transport error).
type outcome struct {
	from, to int32
	status   int
}

// courier delivers like Stripe: senders take deliveries in order, and any
// answer but 200 (or a transport error) puts the delivery on a retry
// queue, to be sent again 100-200 ms later, until it is acknowledged.
type courier struct {
	targets []atomic.Value // webhook URL of each target, switchable while sending
	items   []delivery
	client  *http.Client
	// phase is set by the test around a fault; each attempt is tallied
	// with the phase it started and ended in.
	phase atomic.Int32
	// limit holds back fresh deliveries at or past it (retries still go),
	// so a test can keep work for the time after a fault has set in.
	limit atomic.Int64

	mu       sync.Mutex
	next     int
	retries  []retryAt
	ackPhase []int32 // phase each delivery was acknowledged in; -1 not yet
	tally    map[outcome]int
	samples  []string // a few non-200 answers, for the report
	acked    int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	r      *rand.Rand
}

type retryAt struct {
	item int
	due  time.Time
}

func newCourier(items []delivery, urls ...string) *courier {
	c := &courier{
		targets:  make([]atomic.Value, len(urls)),
		items:    items,
		client:   &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}},
		ackPhase: make([]int32, len(items)),
		tally:    map[outcome]int{},
		r:        rand.New(rand.NewPCG(3, 5)),
	}
	for i, u := range urls {
		c.targets[i].Store(u)
	}
	for i := range c.ackPhase {
		c.ackPhase[i] = -1
	}
	c.limit.Store(int64(len(items)))
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// start runs n senders until every delivery is acknowledged or stop.
func (c *courier) start(n int) {
	for range n {
		c.wg.Go(c.send)
	}
}

// stop ends the senders and waits for them.
func (c *courier) stop() {
	c.cancel()
	c.wg.Wait()
	c.client.CloseIdleConnections()
}

func (c *courier) send() {
	for c.ctx.Err() == nil {
		i, ok, done := c.take()
		if done {
			return
		}
		if !ok {
			select {
			case <-c.ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		d := c.items[i]
		req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, c.targets[d.to].Load().(string), bytes.NewReader(d.body))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", stripeapi.SignWebhook(d.body, faultSecret, time.Now()))
		from := c.phase.Load()
		status, answer := 0, ""
		resp, err := c.client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			status, answer = resp.StatusCode, strings.TrimSpace(string(b))
		} else {
			answer = err.Error()
		}
		c.record(i, outcome{from, c.phase.Load(), status}, answer)
	}
}

// take returns the next delivery to attempt: a due retry first, then a
// fresh one. done means every delivery is acknowledged.
func (c *courier) take() (item int, ok, done bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.acked == len(c.items) {
		return 0, false, true
	}
	now := time.Now()
	for j, r := range c.retries {
		if !r.due.After(now) {
			c.retries = slices.Delete(c.retries, j, j+1)
			return r.item, true, false
		}
	}
	if c.next < len(c.items) && int64(c.next) < c.limit.Load() {
		c.next++
		return c.next - 1, true, false
	}
	return 0, false, false
}

func (c *courier) record(i int, o outcome, answer string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil && o.status == 0 {
		return // cut off by stop, not by the server
	}
	c.tally[o]++
	if o.status == http.StatusOK {
		if c.ackPhase[i] < 0 {
			c.ackPhase[i] = o.to
			c.acked++
		}
		return
	}
	if len(c.samples) < 5 {
		c.samples = append(c.samples, fmt.Sprintf("%d %q", o.status, answer))
	}
	c.retries = append(c.retries, retryAt{i, time.Now().Add(100*time.Millisecond + time.Duration(c.r.Int64N(int64(100*time.Millisecond))))})
}

// count sums the attempts whose outcome matches.
func (c *courier) count(match func(outcome) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for o, k := range c.tally {
		if match(o) {
			n += k
		}
	}
	return n
}

func (c *courier) ackedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked
}

// attempts is how many requests were sent (answered or not).
func (c *courier) attempts() int { return c.count(func(outcome) bool { return true }) }

func (c *courier) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]outcome, 0, len(c.tally))
	for o := range c.tally {
		keys = append(keys, o)
	}
	slices.SortFunc(keys, func(a, b outcome) int {
		if a.from != b.from {
			return int(a.from - b.from)
		}
		if a.to != b.to {
			return int(a.to - b.to)
		}
		return a.status - b.status
	})
	var b strings.Builder
	for _, o := range keys {
		fmt.Fprintf(&b, " [phase %d→%d status %d]×%d", o.from, o.to, o.status, c.tally[o])
	}
	if len(c.samples) > 0 {
		fmt.Fprintf(&b, "; first failures: %s", strings.Join(c.samples, ", "))
	}
	return b.String()
}

// waitFor polls cond every 20 ms until it holds, failing the test with
// what after timeout. cond's error (the database may be away) only delays.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if err == nil && ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s (last error: %v)", what, timeout, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// notStored returns those of ids the events table does not hold.
func notStored(t *testing.T, st *store.Store, ids []string) []string {
	t.Helper()
	var have []string
	if err := st.DB().SelectContext(context.Background(), &have, `SELECT id FROM events WHERE id = ANY($1::text[])`, pq.Array(ids)); err != nil {
		t.Fatal(err)
	}
	stored := make(map[string]bool, len(have))
	for _, id := range have {
		stored[id] = true
	}
	var missing []string
	for _, id := range ids {
		if !stored[id] {
			missing = append(missing, id)
		}
	}
	return missing
}

// mustBeStored fails the test unless every event is stored: called once
// every delivery is acknowledged, and an acknowledgement promises the
// event is durable.
func mustBeStored(t *testing.T, st *store.Store, events []faultEvent) {
	t.Helper()
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.id
	}
	if missing := notStored(t, st, ids); len(missing) > 0 {
		t.Fatalf("%d acknowledged events are not stored: %s", len(missing), strings.Join(missing[:min(len(missing), 10)], ", "))
	}
}

// waitAllApplied polls until the events table holds want events and none
// is queued or failed.
func waitAllApplied(t *testing.T, st *store.Store, want int, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	var last struct {
		Stored  int `db:"stored"`
		Pending int `db:"pending"`
	}
	waitFor(t, timeout, fmt.Sprintf("all %d events applied", want), func() (bool, error) {
		err := st.DB().GetContext(ctx, &last, `SELECT count(*) AS stored,
			count(*) FILTER (WHERE status IN ('queued', 'failed')) AS pending FROM events`)
		if err != nil {
			return false, err
		}
		if last.Stored != want || last.Pending != 0 {
			return false, fmt.Errorf("%d events stored, %d still queued or failed", last.Stored, last.Pending)
		}
		return true, nil
	})
}

// checkEvents asserts every event is stored exactly once, applied or
// ignored, and processed once when onceOnly (attempts = 1; otherwise at
// least once), and that no other event was stored.
func checkEvents(t *testing.T, st *store.Store, events []faultEvent, onceOnly bool) {
	t.Helper()
	var rows []struct {
		ID       string  `db:"id"`
		Status   string  `db:"status"`
		Attempts int     `db:"attempts"`
		Note     *string `db:"note"`
		Error    *string `db:"last_error"`
	}
	if err := st.DB().SelectContext(context.Background(), &rows, `SELECT id, status, attempts, note, last_error FROM events`); err != nil {
		t.Fatal(err)
	}
	stored := make(map[string]int, len(rows))
	bad := 0
	for _, r := range rows {
		stored[r.ID]++
		if (r.Status != store.EventApplied && r.Status != store.EventIgnored) || r.Attempts < 1 || (onceOnly && r.Attempts != 1) {
			if bad++; bad <= 10 {
				t.Errorf("event %s: status %s after %d attempts (note %v, error %v)", r.ID, r.Status, r.Attempts, deref(r.Note), deref(r.Error))
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d events in all not applied exactly once", bad)
	}
	missing := 0
	for _, e := range events {
		if stored[e.id] != 1 {
			if missing++; missing <= 10 {
				t.Errorf("event %s stored %d times", e.id, stored[e.id])
			}
		}
	}
	if len(rows) != len(events) {
		t.Errorf("events holds %d rows, want the %d events sent", len(rows), len(events))
	}
}

// checkMirror asserts each object the events named is in its table at the
// state of its newest event: version = the newest event's created and the
// data that event carried, unless an event of the object was settled by
// re-fetching it from Stripe, in which case the version is only at least
// that created (the fetch time). It returns how many objects were
// re-fetched.
func checkMirror(t *testing.T, st *store.Store, events []faultEvent) int {
	t.Helper()
	ctx := context.Background()
	type state struct {
		newest  faultEvent
		refetch bool
	}
	want := map[string]map[string]*state{}
	for _, e := range events {
		if want[e.table] == nil {
			want[e.table] = map[string]*state{}
		}
		s := want[e.table][e.object]
		if s == nil {
			s = &state{newest: e}
			want[e.table][e.object] = s
		}
		if e.created > s.newest.created {
			s.newest = e
		}
	}
	var notes []struct {
		Type string `db:"object_type"`
		ID   string `db:"object_id"`
	}
	if err := st.DB().SelectContext(ctx, &notes, `SELECT DISTINCT object_type, object_id FROM events WHERE note LIKE 're-fetched%'`); err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		if s := want[n.Type+"s"][n.ID]; s != nil {
			s.refetch = true
		}
	}
	refetched := 0
	for _, table := range []string{"customers", "invoices", "charges", "refunds"} {
		var rows []struct {
			ID      string  `db:"id"`
			Version int64   `db:"version"`
			Marker  *string `db:"marker"`
		}
		if err := st.DB().SelectContext(ctx, &rows, `SELECT id, version, data->'metadata'->>'`+faultMarker+`' AS marker FROM `+table); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		wrong := 0
		for _, r := range rows {
			got[r.ID]++
			s := want[table][r.ID]
			switch {
			case s == nil:
				t.Errorf("%s %s is mirrored but no event named it", table, r.ID)
				continue
			case s.refetch:
				refetched++
				if r.Version < s.newest.created {
					wrong++
					t.Errorf("%s %s (re-fetched): version %d, older than its newest event %s (created %d)", table, r.ID, r.Version, s.newest.id, s.newest.created)
				}
			case r.Version != s.newest.created || deref(r.Marker) != s.newest.id:
				if wrong++; wrong <= 10 {
					t.Errorf("%s %s: version %d with the state of %s, want %d from its newest event %s",
						table, r.ID, r.Version, deref(r.Marker), s.newest.created, s.newest.id)
				}
			}
		}
		for id := range want[table] {
			if got[id] != 1 {
				t.Errorf("%s %s: %d rows, want 1", table, id, got[id])
			}
		}
		if len(rows) != len(want[table]) {
			t.Errorf("%s: %d rows, want the %d objects the events named", table, len(rows), len(want[table]))
		}
	}
	return refetched
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// faultServeEnv migrates a fresh database and returns it with the
// environment for paydesk serve, Stripe being a fake over data.
func faultServeEnv(t *testing.T, data *stripefake.Data) (*store.Store, map[string]string) {
	t.Helper()
	st, dbURL := storetest.NewWithURL(t)
	fake := stripefake.NewServer(data, stripefake.Options{SecretKey: fakeKey})
	t.Cleanup(fake.Close)
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": fakeKey,
		"STRIPE_API_BASE": fake.URL, "STRIPE_WEBHOOK_SECRET": faultSecret}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	return st, env
}

func oneEach(events []faultEvent) []delivery {
	out := make([]delivery, len(events))
	for i, e := range events {
		out[i] = delivery{body: e.body}
	}
	return out
}

// foldRefusals shortens a log by counting its "cannot store the event now"
// lines instead of showing each.
func foldRefusals(log string) string {
	var out []string
	folded := 0
	for _, l := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		if strings.Contains(l, "cannot store the event now") {
			if folded++; folded > 3 {
				continue
			}
		}
		out = append(out, l)
	}
	if folded > 3 {
		out = append(out, fmt.Sprintf("(%d more \"cannot store the event now\" lines)", folded-3))
	}
	return strings.Join(out, "\n")
}

// errorLines returns the log's ERROR lines.
func errorLines(log string) []string { return levelLines(log, "ERROR") }

// levelLines returns the log's lines at level, in either log format.
func levelLines(log, level string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level="+level+" ") || strings.Contains(l, `"level":"`+level+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// Phases of TestWebhooksSurviveDatabaseOutage.
const (
	phaseUp       = iota // the database is up
	phaseStopping        // Stop called
	phaseDown            // Stop returned: the database is down
	phaseStarting        // Restart called
	phaseBack            // Restart returned
)

// Phases of TestWebhooksSurviveServeKill.
const (
	phaseServing  = iota // the first process is up
	phaseKilling         // SIGKILL about to be sent
	phaseKilled          // the first process has exited
	phaseReplaced        // the second process is up and the senders target it
)

// TestWebhooksSurviveDatabaseOutage stops PostgreSQL under a running
// `paydesk serve` while deliveries arrive: the receiver must answer 503
// (never 200) while it cannot store, and once the database is back every
// retried delivery is stored and every event applied exactly once.
func TestWebhooksSurviveDatabaseOutage(t *testing.T) {
	cluster := storetest.Cluster()
	if cluster == nil {
		t.Skip("TEST_DATABASE_URL is set: this test stops and restarts the database server, which needs the tests' own throwaway cluster")
	}
	data := faultData(21)
	st, env := faultServeEnv(t, data)
	// Every other test shares this cluster: bring it back whatever happens.
	// (Registered after the database, so it runs before the database is
	// dropped.)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if !cluster.Running(ctx) {
			if err := cluster.Restart(ctx); err != nil {
				t.Errorf("restart the cluster after the test: %v", err)
			}
		}
	})
	s := startServe(t, env, "--workers", "2")
	events := faultEvents(data, "outage", 600, 21)
	c := newCourier(oneEach(events), s.base+"/webhooks/stripe")
	defer c.stop()
	// Half the events go before the stop; the rest wait for the outage.
	c.limit.Store(int64(len(events) / 2))
	c.start(4)

	waitFor(t, 20*time.Second, "a third of the events acknowledged", func() (bool, error) {
		return c.ackedCount() >= len(events)/3, nil
	})
	c.phase.Store(phaseStopping)
	stopStart := time.Now()
	if err := cluster.Stop(); err != nil {
		t.Fatalf("stop the cluster: %v", err)
	}
	c.phase.Store(phaseDown)
	downAt := time.Now()
	ackedBefore := c.ackedCount()
	c.limit.Store(int64(len(events)))
	// Stay down for at least 800 ms (several retry rounds) and until some
	// delivery started in the outage was answered (how is checked below).
	inOutage := func(o outcome) bool { return o.from == phaseDown && o.to == phaseDown }
	refusedInOutage := func(o outcome) bool { return inOutage(o) && o.status == http.StatusServiceUnavailable }
	waitFor(t, 15*time.Second, "a delivery answered during the outage", func() (bool, error) {
		return c.count(inOutage) > 0 && time.Since(downAt) >= 800*time.Millisecond, nil
	})
	c.phase.Store(phaseStarting)
	outage := time.Since(downAt)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cluster.Restart(ctx); err != nil {
		t.Fatalf("restart the cluster: %v", err)
	}
	c.phase.Store(phaseBack)
	backAt := time.Now()

	waitFor(t, 25*time.Second, "every delivery acknowledged after the restart", func() (bool, error) {
		return c.ackedCount() == len(events), nil
	})
	ackedIn := time.Since(backAt)
	refused := c.count(refusedInOutage)
	if refused == 0 {
		t.Errorf("no delivery was refused with 503 while the database was down")
	}
	if n := c.count(func(o outcome) bool { return inOutage(o) && o.status == http.StatusOK }); n > 0 {
		t.Errorf("%d deliveries started and acknowledged with 200 while the database was down", n)
	}
	if n := c.count(func(o outcome) bool {
		return inOutage(o) && o.status != http.StatusOK && o.status != http.StatusServiceUnavailable
	}); n > 0 {
		t.Errorf("%d deliveries during the outage got neither 503 nor 200:%s", n, c.summary())
	}
	mustBeStored(t, st, events)
	waitAllApplied(t, st, len(events), 25*time.Second)
	appliedIn := time.Since(backAt)
	c.stop()
	t.Logf("%d events; %d acknowledged before the stop; stop took %s, outage %s; %d deliveries refused with 503 during it; "+
		"%d attempts in all (%d retries); all acknowledged %s and all applied %s after the restart; attempts:%s",
		len(events), ackedBefore, downAt.Sub(stopStart).Round(time.Millisecond), outage.Round(time.Millisecond), refused,
		c.attempts(), c.attempts()-len(events), ackedIn.Round(time.Millisecond), appliedIn.Round(time.Millisecond), c.summary())
	checkEvents(t, st, events, true)
	checkMirror(t, st, events)
	if t.Failed() {
		t.Logf("serve log (refusals folded):\n%s", foldRefusals(s.log()))
	}
}

// TestWebhooksSurviveServeKill kills `paydesk serve` with SIGKILL while
// deliveries arrive, then starts another on the same database: what the
// first acknowledged must not be lost, and the senders' retries to the new
// process complete the rest.
func TestWebhooksSurviveServeKill(t *testing.T) {
	data := faultData(22)
	st, env := faultServeEnv(t, data)
	first := startServe(t, env, "--workers", "2")
	events := faultEvents(data, "kill", 600, 22)
	c := newCourier(oneEach(events), first.base+"/webhooks/stripe")
	defer c.stop()
	c.limit.Store(int64(len(events) / 2))
	c.start(4)

	waitFor(t, 20*time.Second, "a third of the events acknowledged", func() (bool, error) {
		return c.ackedCount() >= len(events)/3, nil
	})
	c.phase.Store(phaseKilling)
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.done
	_ = first.cmd.Wait()
	c.phase.Store(phaseKilled)
	c.limit.Store(int64(len(events)))
	c.mu.Lock()
	var beforeKill []string
	for i, p := range c.ackPhase {
		if p == phaseServing {
			beforeKill = append(beforeKill, events[i].id)
		}
	}
	c.mu.Unlock()
	// An acknowledged event is durable: each must be stored already.
	// Losing one of these is the failure this test is for.
	if missing := notStored(t, st, beforeKill); len(missing) > 0 {
		t.Errorf("%d of the %d events acknowledged before the kill are not stored: %s",
			len(missing), len(beforeKill), strings.Join(missing[:min(len(missing), 10)], ", "))
	}
	waitFor(t, 15*time.Second, "senders failing to reach the killed process", func() (bool, error) {
		return c.count(func(o outcome) bool { return o.from == phaseKilled && o.status == 0 }) >= 4, nil
	})
	second := startServe(t, env, "--workers", "2")
	c.targets[0].Store(second.base + "/webhooks/stripe")
	c.phase.Store(phaseReplaced)
	backAt := time.Now()
	waitFor(t, 25*time.Second, "every delivery acknowledged by the second process", func() (bool, error) {
		return c.ackedCount() == len(events), nil
	})
	ackedIn := time.Since(backAt)
	mustBeStored(t, st, events)
	waitAllApplied(t, st, len(events), 25*time.Second)
	appliedIn := time.Since(backAt)
	c.stop()

	checkEvents(t, st, events, true)
	refetched := checkMirror(t, st, events)
	t.Logf("%d events, %d acknowledged before the kill; %d transport errors while no process listened; %d attempts (%d retries); "+
		"all acknowledged %s and applied %s after the second process started; %d objects re-fetched; attempts:%s",
		len(events), len(beforeKill), c.count(func(o outcome) bool { return o.status == 0 }), c.attempts(), c.attempts()-len(events),
		ackedIn.Round(time.Millisecond), appliedIn.Round(time.Millisecond), refetched, c.summary())
	if lines := errorLines(second.log()); len(lines) > 0 {
		t.Errorf("the second process logged errors:\n%s", strings.Join(lines, "\n"))
	}
	if t.Failed() {
		t.Logf("first serve log:\n%s\nsecond serve log:\n%s", first.log(), second.log())
	}
}

// TestTwoServesDrainOneQueue runs two `paydesk serve` processes on one
// database, with deliveries alternating between them and some delivered to
// both: each event is stored once, every delivery counted, and applied
// exactly once by one of the four workers.
func TestTwoServesDrainOneQueue(t *testing.T) {
	data := faultData(23)
	st, env := faultServeEnv(t, data)
	a := startServe(t, env, "--workers", "2")
	b := startServe(t, env, "--workers", "2")
	events := faultEvents(data, "drain", 2000, 23)
	r := rand.New(rand.NewPCG(23, 1))
	deliveries := make([]delivery, 0, len(events)*21/20)
	for i, e := range events {
		deliveries = append(deliveries, delivery{body: e.body, to: i % 2})
	}
	for i, e := range events {
		if r.IntN(100) < 5 {
			at := i + 1 + r.IntN(len(deliveries)-i)
			deliveries = slices.Insert(deliveries, at, delivery{body: e.body, to: 1 - i%2})
		}
	}
	c := newCourier(deliveries, a.base+"/webhooks/stripe", b.base+"/webhooks/stripe")
	defer c.stop()
	c.start(4)
	start := time.Now()
	waitFor(t, 25*time.Second, "every delivery acknowledged", func() (bool, error) {
		return c.ackedCount() == len(deliveries), nil
	})
	mustBeStored(t, st, events)
	waitAllApplied(t, st, len(events), 25*time.Second)
	took := time.Since(start)
	c.stop()

	if n := c.attempts(); n != len(deliveries) {
		t.Errorf("%d attempts for %d deliveries: some were not acknowledged at once:%s", n, len(deliveries), c.summary())
	}
	var counted int
	if err := st.DB().GetContext(context.Background(), &counted, `SELECT coalesce(sum(deliveries), 0) FROM events`); err != nil {
		t.Fatal(err)
	}
	if acked := c.count(func(o outcome) bool { return o.status == http.StatusOK }); counted != acked || counted != len(deliveries) {
		t.Errorf("events count %d deliveries; %d were sent and %d acknowledged", counted, len(deliveries), acked)
	}
	checkEvents(t, st, events, true)
	refetched := checkMirror(t, st, events)
	for name, s := range map[string]*serving{"first": a, "second": b} {
		if lines := errorLines(s.log()); len(lines) > 0 {
			t.Errorf("the %s process logged %d errors:\n%s", name, len(lines), strings.Join(lines[:min(len(lines), 20)], "\n"))
		}
		if lines := levelLines(s.log(), "WARN"); len(lines) > 0 {
			t.Logf("the %s process logged %d warnings:\n%s", name, len(lines), strings.Join(lines[:min(len(lines), 20)], "\n"))
		}
	}
	t.Logf("%d events in %d deliveries (%d to both processes) acknowledged and applied in %s; %d objects re-fetched",
		len(events), len(deliveries), len(deliveries)-len(events), took.Round(time.Millisecond), refetched)
	if t.Failed() {
		t.Logf("first serve log:\n%s\nsecond serve log:\n%s", a.log(), b.log())
	}
}
