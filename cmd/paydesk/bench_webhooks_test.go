package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/pgcluster"
	"paydesk/stripeapi"
	"paydesk/stripeapi/stripefake"
	"paydesk/stripeapi/stripemock"
)

// BenchmarkWebhooks (make bench-webhooks) sends realistic signed events to
// a running `paydesk serve` and prints events/s until every event is
// applied, and the p50/p99 acknowledgement latency. It starts a durable
// PostgreSQL cluster (fsync on, as in production), stripe-mock for the
// re-fetches that same-second events need, and the server with two event
// workers. Settings come from the environment:
//
//	BENCH_EVENTS       events to send (default 60000)
//	BENCH_CONCURRENCY  concurrent senders (default 16)
//	BENCH_DUPLICATES   percent of events delivered twice (default 5)
//	BENCH_TIES         percent of an object's updates in the same second as the one before (default 5)
//	BENCH_REORDER      events are shuffled within windows of this many (default 64)
//	BENCH_MIX          percent charges,invoices,customers,refunds (default 40,25,20,15)
//	BENCH_WORKERS      event workers in the server (default 2); 0 measures
//	                   the intake alone: events are stored, not applied
//	BENCH_STRIPE_RATE  the server's --stripe-rate for re-fetches (default 0,
//	                   unlimited: stripe-mock has no rate limit; Stripe's
//	                   test mode allows 25/s, which then bounds ties)
//	BENCH_CLIENT       nethttp: send with net/http's client instead of the
//	                   hand-written HTTP/1.1 sender (see sendAll), to see
//	                   what the client's own CPU costs the server
//	BENCH_STATS        1: also print where PostgreSQL spent its time (the
//	                   statements by total time, from pg_stat_statements),
//	                   the writes per table and the WAL written
func BenchmarkWebhooks(b *testing.B) {
	cfg := benchConfig{
		events: envInt("BENCH_EVENTS", 60000), concurrency: envInt("BENCH_CONCURRENCY", 16),
		duplicates: envInt("BENCH_DUPLICATES", 5), ties: envInt("BENCH_TIES", 5),
		reorder: envInt("BENCH_REORDER", 64), workers: envInt("BENCH_WORKERS", 2),
		stripeRate: envInt("BENCH_STRIPE_RATE", 0),
		mix:        [4]int{40, 25, 20, 15},
	}
	if m := os.Getenv("BENCH_MIX"); m != "" {
		if _, err := fmt.Sscanf(m, "%d,%d,%d,%d", &cfg.mix[0], &cfg.mix[1], &cfg.mix[2], &cfg.mix[3]); err != nil {
			b.Fatalf("BENCH_MIX: want four percentages like 40,25,20,15")
		}
	}
	ctx := context.Background()
	// Not b.TempDir: its parent is private to root, and the cluster runs
	// as postgres when the benchmark runs as root.
	dir, err := os.MkdirTemp("", "paydesk-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	stats := os.Getenv("BENCH_STATS") == "1"
	var settings []string
	if stats {
		settings = append(settings, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all",
			"pg_stat_statements.track_planning=on")
	}
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(dir, "data"), Durable: true, Settings: settings})
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Stop()
	mock, err := stripemock.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer mock.Close()
	const secret = "whsec_bench_webhooks"
	env := map[string]string{"DATABASE_URL": cluster.URL("postgres"), "STRIPE_TEST_SECRET_KEY": "sk_test_123",
		"STRIPE_API_BASE": mock.URL, "STRIPE_WEBHOOK_SECRET": secret}
	if r := paydesk(b, env, "migrate"); r.code != 0 {
		b.Fatalf("migrate: %+v", r)
	}
	srv := startServe(b, env, "--workers", strconv.Itoa(cfg.workers), "--stripe-rate", strconv.Itoa(cfg.stripeRate))
	st, err := store.Open(ctx, cluster.URL("postgres"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	if stats {
		if _, err := st.DB().ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset(), pg_stat_reset()`); err != nil {
			b.Fatal(err)
		}
	}
	deliveries, unique := benchEvents(cfg)
	b.ResetTimer()
	send := sendAll
	if os.Getenv("BENCH_CLIENT") == "nethttp" {
		send = sendAllNetHTTP
	}
	res := send(b, srv.base+"/webhooks/stripe", secret, deliveries, cfg.concurrency)
	for cfg.workers > 0 {
		var left int
		if err := st.DB().GetContext(ctx, &left, `SELECT count(*) FROM events WHERE status IN ('queued', 'failed')`); err != nil {
			b.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Since(res.start) > 10*time.Minute {
			b.Fatalf("%d events still not applied after 10 minutes", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	applied := time.Since(res.start)
	b.StopTimer()

	var outcome struct {
		Stored   int `db:"stored"`
		Failed   int `db:"failed"`
		Refetch  int `db:"refetched"`
		Multiple int `db:"multiple"`
	}
	if err := st.DB().GetContext(ctx, &outcome, `SELECT count(*) AS stored,
		count(*) FILTER (WHERE status = 'failed') AS failed,
		count(*) FILTER (WHERE note LIKE 're-fetched%') AS refetched,
		count(*) FILTER (WHERE attempts > 1) AS multiple FROM events`); err != nil {
		b.Fatal(err)
	}
	if outcome.Stored != unique || outcome.Failed != 0 || res.errors > 0 {
		b.Fatalf("stored %d of %d unique events, %d failed, %d send errors", outcome.Stored, unique, outcome.Failed, res.errors)
	}
	if cfg.workers == 0 {
		rate := float64(len(deliveries)) / res.sent.Seconds()
		b.ReportMetric(rate, "deliveries/s")
		b.ReportMetric(float64(res.percentile(99).Microseconds())/1000, "p99-ack-ms")
		fmt.Printf("webhooks: intake alone (no workers): %d deliveries stored in %s: %.0f/s; ack p50 %s, p99 %s, max %s\n",
			len(deliveries), res.sent.Round(time.Millisecond), rate, res.percentile(50), res.percentile(99), res.percentile(100))
		if stats {
			printPostgresStats(b, st, unique)
		}
		return
	}
	rate := float64(unique) / applied.Seconds()
	p50, p99 := res.percentile(50), res.percentile(99)
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ack-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ack-ms")
	fmt.Printf("webhooks: %d deliveries (%d unique events, %d duplicates) at concurrency %d, %d workers\n",
		len(deliveries), unique, len(deliveries)-unique, cfg.concurrency, cfg.workers)
	fmt.Printf("webhooks: all applied in %s: %.0f events/s; acknowledged in %s (%.0f/s); ack p50 %s, p99 %s, max %s\n",
		applied.Round(time.Millisecond), rate, res.sent.Round(time.Millisecond), float64(len(deliveries))/res.sent.Seconds(),
		p50, p99, res.percentile(100))
	fmt.Printf("webhooks: %d events re-fetched from Stripe (same-second ties; --stripe-rate %d), %d needed more than one attempt\n",
		outcome.Refetch, cfg.stripeRate, outcome.Multiple)
	if stats {
		printPostgresStats(b, st, unique)
	}
}

// printPostgresStats prints, per applied event, where PostgreSQL spent its
// time and what it wrote.
func printPostgresStats(b *testing.B, st *store.Store, events int) {
	ctx := context.Background()
	var top []struct {
		Query string  `db:"query"`
		Calls int64   `db:"calls"`
		Total float64 `db:"total"`
		Plan  float64 `db:"plan"`
		Rows  int64   `db:"rows"`
	}
	if err := st.DB().SelectContext(ctx, &top, `SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query, calls,
		total_exec_time AS total, total_plan_time AS plan, rows FROM pg_stat_statements
		ORDER BY total_exec_time + total_plan_time DESC LIMIT 25`); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("postgres: statements by time (µs per applied event: executing + planning)\n")
	for _, t := range top {
		fmt.Printf("%8.1f + %5.1f µs %8d calls %9d rows  %s\n", t.Total*1000/float64(events), t.Plan*1000/float64(events),
			t.Calls, t.Rows, t.Query)
	}
	var tables []struct {
		Name string `db:"relname"`
		Ins  int64  `db:"n_tup_ins"`
		Upd  int64  `db:"n_tup_upd"`
		HOT  int64  `db:"n_tup_hot_upd"`
		Del  int64  `db:"n_tup_del"`
	}
	if err := st.DB().SelectContext(ctx, &tables, `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
		FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname`); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("postgres: rows written\n")
	for _, t := range tables {
		fmt.Printf("  %-32s %8d inserted %8d updated (%d HOT) %8d deleted\n", t.Name, t.Ins, t.Upd, t.HOT, t.Del)
	}
	var wal struct {
		Records int64 `db:"wal_records"`
		FPI     int64 `db:"wal_fpi"`
		Bytes   int64 `db:"wal_bytes"`
		Syncs   int64 `db:"wal_sync"`
	}
	if err := st.DB().GetContext(ctx, &wal, `SELECT wal_records, wal_fpi, wal_bytes::bigint AS wal_bytes, wal_sync FROM pg_stat_wal`); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("postgres: WAL %.1f records, %.2f full pages, %.0f bytes per event; %d syncs (%.1f events per sync)\n",
		float64(wal.Records)/float64(events), float64(wal.FPI)/float64(events), float64(wal.Bytes)/float64(events),
		wal.Syncs, float64(events)/float64(max(wal.Syncs, 1)))
}

type benchConfig struct {
	events, concurrency, duplicates, ties, reorder, workers, stripeRate int
	mix                                                                 [4]int
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

// benchEvents builds the deliveries: each object gets a few updates over
// time, some in the same second as the one before, then the stream is
// shuffled within windows and some events are delivered twice. It returns
// the deliveries and how many distinct events they hold.
func benchEvents(cfg benchConfig) ([][]byte, int) {
	objects := max(cfg.events/3, 4)
	data := stripefake.Generate(templates, stripefake.Dataset{
		Customers: objects * cfg.mix[2] / 100, Invoices: objects * cfg.mix[1] / 100,
		Charges: objects * cfg.mix[0] / 100, Refunds: objects * cfg.mix[3] / 100, Seed: 42,
	})
	type kind struct {
		objects []json.RawMessage
		types   []string
		weight  int
	}
	kinds := []kind{
		{data.Charges(), []string{"charge.succeeded", "charge.updated", "charge.captured"}, cfg.mix[0]},
		{data.Invoices(), []string{"invoice.created", "invoice.finalized", "invoice.paid", "invoice.updated"}, cfg.mix[1]},
		{data.Customers(), []string{"customer.created", "customer.updated"}, cfg.mix[2]},
		{data.Refunds(), []string{"refund.created", "refund.updated", "charge.refund.updated"}, cfg.mix[3]},
	}
	r := rand.New(rand.NewPCG(7, 11))
	total := 0
	for _, k := range kinds {
		if len(k.objects) > 0 {
			total += k.weight
		}
	}
	lastSecond := map[string]int64{}
	base := time.Now().Add(-time.Hour).Unix()
	events := make([][]byte, 0, cfg.events)
	for i := 0; i < cfg.events; i++ {
		pick := r.IntN(total)
		k := kinds[0]
		for _, kk := range kinds {
			if len(kk.objects) == 0 {
				continue
			}
			if pick < kk.weight {
				k = kk
				break
			}
			pick -= kk.weight
		}
		obj := k.objects[r.IntN(len(k.objects))]
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(obj, &head); err != nil {
			panic(err)
		}
		id := head.ID
		created, seen := lastSecond[id]
		switch {
		case !seen:
			created = base + r.Int64N(600)
		case r.IntN(100) >= cfg.ties:
			created += 1 + r.Int64N(5)
		}
		lastSecond[id] = created
		typ := k.types[r.IntN(len(k.types))]
		events = append(events, benchEvent(fmt.Sprintf("evt_bench_%08d", i), typ, created, obj))
	}
	for lo := 0; lo < len(events); lo += max(cfg.reorder, 1) {
		hi := min(lo+max(cfg.reorder, 1), len(events))
		r.Shuffle(hi-lo, func(i, j int) { events[lo+i], events[lo+j] = events[lo+j], events[lo+i] })
	}
	deliveries := slices.Clone(events)
	for _, e := range events {
		if r.IntN(100) < cfg.duplicates {
			at := r.IntN(len(deliveries) + 1)
			deliveries = slices.Insert(deliveries, at, e)
		}
	}
	return deliveries, len(events)
}

// benchEvent wraps obj in an event. Each event's object differs from the
// others of its object (its metadata names the event), as successive real
// states do, so no write is a no-op.
func benchEvent(id, typ string, created int64, obj json.RawMessage) []byte {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		panic(err)
	}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["bench_event"] = id
	m["metadata"] = meta
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"id": id, "object": "event", "api_version": stripeapi.APIVersion, "created": created,
		"data": map[string]any{"object": m}, "livemode": false, "pending_webhooks": 1,
		"request": map[string]any{"id": nil, "idempotency_key": nil}, "type": typ}); err != nil {
		panic(err)
	}
	return bytes.TrimSpace(b.Bytes())
}

type sendResult struct {
	start     time.Time
	sent      time.Duration
	latencies []time.Duration
	errors    int64
}

func (r sendResult) percentile(p int) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := min(len(r.latencies)*p/100, len(r.latencies)-1)
	return r.latencies[i].Round(10 * time.Microsecond)
}

// sendAll delivers every body with concurrency senders, each signing as
// Stripe does just before sending, and records each acknowledgement's
// latency, from the first byte written to the last byte of the answer
// read.
//
// The senders write HTTP/1.1 requests by hand over one kept-alive
// connection each and read the answers with a small parser. The benchmark
// and the server share the machine's two cores, and net/http's client
// spent about a quarter of them (~150 µs of CPU per delivery) on its own
// bookkeeping: CPU that Stripe's side of a real delivery does not take
// from paydesk's. What goes over the wire is what Stripe sends.
func sendAll(b *testing.B, target, secret string, bodies [][]byte, concurrency int) sendResult {
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var errs atomic.Int64
	lat := make([]time.Duration, len(bodies))
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			var conn net.Conn
			var rd *bufio.Reader
			req := make([]byte, 0, 8<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					break
				}
				if conn == nil {
					c, err := net.Dial("tcp", u.Host)
					if err != nil {
						errs.Add(1)
						continue
					}
					conn, rd = c, bufio.NewReaderSize(c, 4<<10)
				}
				req = append(req[:0], "POST "...)
				req = append(req, u.Path...)
				req = append(req, " HTTP/1.1\r\nHost: "...)
				req = append(req, u.Host...)
				req = append(req, "\r\nUser-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\nContent-Type: application/json; charset=utf-8\r\nStripe-Signature: "...)
				req = append(req, stripeapi.SignWebhook(bodies[i], secret, time.Now())...)
				req = append(req, "\r\nContent-Length: "...)
				req = strconv.AppendInt(req, int64(len(bodies[i])), 10)
				req = append(req, "\r\n\r\n"...)
				req = append(req, bodies[i]...)
				t0 := time.Now()
				status, err := roundTrip(conn, rd, req)
				lat[i] = time.Since(t0)
				if err != nil {
					errs.Add(1)
					conn.Close()
					conn = nil
					continue
				}
				if status != http.StatusOK {
					errs.Add(1)
				}
			}
			if conn != nil {
				conn.Close()
			}
		})
	}
	wg.Wait()
	res := sendResult{start: start, sent: time.Since(start), latencies: lat, errors: errs.Load()}
	slices.Sort(res.latencies)
	return res
}

// sendAllNetHTTP is sendAll with net/http's client (BENCH_CLIENT=nethttp).
func sendAllNetHTTP(b *testing.B, target, secret string, bodies [][]byte, concurrency int) sendResult {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}, Timeout: 30 * time.Second}
	var next atomic.Int64
	var errs atomic.Int64
	lat := make([]time.Duration, len(bodies))
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Stripe-Signature", stripeapi.SignWebhook(bodies[i], secret, time.Now()))
				t0 := time.Now()
				resp, err := client.Do(req)
				lat[i] = time.Since(t0)
				if err != nil {
					errs.Add(1)
					continue
				}
				if resp.StatusCode != http.StatusOK {
					errs.Add(1)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	res := sendResult{start: start, sent: time.Since(start), latencies: lat, errors: errs.Load()}
	slices.Sort(res.latencies)
	return res
}

// roundTrip writes one request and reads its answer: the status line, the
// headers (only Content-Length matters; the server never chunks these
// small answers) and the body. It returns the status code.
func roundTrip(conn net.Conn, rd *bufio.Reader, req []byte) (int, error) {
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		h, err := rd.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		if name, value, ok := bytes.Cut(h, []byte(":")); ok && strings.EqualFold(string(name), "Content-Length") {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("answer without Content-Length")
	}
	if _, err := rd.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}
