package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
	"paydesk/stripeapi/apply"
)

// readyAnswer is /readyz's JSON body.
type readyAnswer struct {
	Status string `json:"status"`
	Checks []struct {
		Name    string `json:"name"`
		OK      bool   `json:"ok"`
		Problem string `json:"problem"`
	} `json:"checks"`
}

// readyz asks srv's /readyz and decodes the answer.
func readyz(t *testing.T, srv http.Handler) (int, readyAnswer, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var a readyAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("readyz body %q (%s): %v", rec.Body, rec.Header().Get("Content-Type"), err)
	}
	return rec.Code, a, rec.Body.String()
}

// problems maps each failed check to its problem.
func (a readyAnswer) problems() map[string]string {
	out := map[string]string{}
	for _, c := range a.Checks {
		if !c.OK {
			out[c.Name] = c.Problem
		}
	}
	return out
}

func readyServer(t *testing.T, st *store.Store, r storeReadiness) *handlers.Server {
	t.Helper()
	return handlers.New(handlers.Config{Intake: st, Staff: st, Mirror: st, Ready: r,
		SessionSecret: []byte("0123456789abcdef0123456789abcdef")})
}

// TestReadyzWorkers: ready with a running worker; not ready, naming the
// worker, once it stopped; a worker stuck while events wait is found too.
func TestReadyzWorkers(t *testing.T) {
	st := storetest.New(t)
	monitor := &apply.Monitor{}
	srv := readyServer(t, st, storeReadiness{st: st, workers: monitor})
	worker := apply.NewWorker(st, nil, apply.Options{Monitor: monitor, Idle: 5 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = worker.Run(ctx) }()
	defer func() { stop(); <-done }()

	waitUntil(t, "the worker's first round", func() bool { return !monitor.Workers()[0].LastProgress.IsZero() })
	code, a, body := readyz(t, srv)
	if code != http.StatusOK || a.Status != "ready" || len(a.Checks) != 3 || len(a.problems()) != 0 {
		t.Fatalf("healthy: %d %s", code, body)
	}
	for i, name := range []string{"database", "migrations", "workers"} {
		if a.Checks[i].Name != name {
			t.Errorf("check %d is %q, want %q", i, a.Checks[i].Name, name)
		}
	}

	stop()
	<-done
	code, a, body = readyz(t, srv)
	if code != http.StatusServiceUnavailable || a.Status != "not ready" || a.problems()["workers"] != "event worker 1 stopped" {
		t.Fatalf("worker stopped: %d %s", code, body)
	}
	if p := a.problems(); p["database"] != "" || p["migrations"] != "" {
		t.Errorf("worker stopped, other checks: %v", p)
	}

	// A worker made but never run is found once its stall time passed.
	idle := &apply.Monitor{Stall: time.Millisecond}
	apply.NewWorker(st, nil, apply.Options{Monitor: idle})
	time.Sleep(5 * time.Millisecond)
	if code, a, body := readyz(t, readyServer(t, st, storeReadiness{st: st, workers: idle})); code != http.StatusServiceUnavailable ||
		a.problems()["workers"] != "event worker 1 never started" {
		t.Fatalf("worker never started: %d %s", code, body)
	}
}

// TestReadyzStuckWorker: a worker busy in one round (its transaction held
// up by a lock) while events wait makes the process not ready, and ready
// again once the round finishes.
func TestReadyzStuckWorker(t *testing.T) {
	st, dbURL := storetest.NewWithURL(t)
	ctx := context.Background()
	monitor := &apply.Monitor{Stall: 300 * time.Millisecond}
	srv := readyServer(t, st, storeReadiness{st: st, workers: monitor})
	body := []byte(`{"id":"evt_stuck","object":"event","api_version":"2023-10-16","created":1700000000,"livemode":false,` +
		`"type":"customer.updated","data":{"object":{"id":"cus_stuck","object":"customer","name":"Ada"}}}`)
	objType, objID, version := "customer", "cus_stuck", "2023-10-16"
	if _, err := st.EnqueueEvent(ctx, store.Event{ID: "evt_stuck", Type: "customer.updated", APIVersion: &version, Created: 1700000000,
		ObjectType: &objType, ObjectID: &objID, Data: body, Source: store.SourceWebhook}); err != nil {
		t.Fatal(err)
	}
	// Another session holds the customers table, so the worker's batch
	// waits on the lock: a stuck round.
	blocker, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	tx, err := blocker.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `LOCK TABLE customers IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	worker := apply.NewWorker(st, nil, apply.Options{Monitor: monitor, Idle: 5 * time.Millisecond})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = worker.Run(runCtx) }()
	defer func() { stop(); <-done }()

	waitUntil(t, "readyz to call the worker stuck", func() bool {
		code, a, _ := readyz(t, srv)
		return code == http.StatusServiceUnavailable && strings.Contains(a.problems()["workers"], "event worker 1 has made no progress")
	})
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "readyz to be ready once the lock is gone", func() bool {
		code, _, _ := readyz(t, srv)
		return code == http.StatusOK
	})
	var status string
	if err := st.DB().GetContext(ctx, &status, `SELECT status FROM events WHERE id = 'evt_stuck'`); err != nil || status != store.EventApplied {
		t.Fatalf("the event after the lock: %q, %v", status, err)
	}
}

// TestReadyzDatabase: a database that goes away makes /readyz 503 naming
// the database (and nothing internal); one without the migrations names
// them.
func TestReadyzDatabase(t *testing.T) {
	ctx := context.Background()
	dbURL := storetest.URL(t)
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := readyServer(t, st, storeReadiness{st: st})
	if code, a, body := readyz(t, srv); code != http.StatusOK || len(a.Checks) != 2 {
		t.Fatalf("before: %d %s", code, body)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The database goes away under the open pool: its connections are
	// ended, and new ones are refused.
	if _, err := admin.ExecContext(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
		t.Fatal(err)
	}
	code, a, body := readyz(t, srv)
	if code != http.StatusServiceUnavailable || a.problems()["database"] != "database unavailable" ||
		!strings.HasPrefix(a.problems()["migrations"], "not checked") {
		t.Fatalf("database gone: %d %s", code, body)
	}
	if strings.Contains(body, name) || strings.Contains(body, "pq:") || strings.Contains(body, u.Host) {
		t.Errorf("readyz shows internal error text: %s", body)
	}

	// A database that answers but has no migrations.
	empty := fmt.Sprintf("paydesk_ready_empty_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+empty); err != nil {
		t.Fatal(err)
	}
	defer admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+empty+` WITH (FORCE)`)
	u.Path = "/" + empty
	bare, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	code, a, body = readyz(t, readyServer(t, bare, storeReadiness{st: bare}))
	if code != http.StatusServiceUnavailable || !strings.Contains(a.problems()["migrations"], "migrations pending") || a.problems()["database"] != "" {
		t.Fatalf("no migrations: %d %s", code, body)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeMetricsAndReadyz runs paydesk serve with a metrics token: a
// signed event and one whose object must be re-fetched (Stripe is
// unreachable) move the counters a scrape shows, /readyz names its three
// checks, and every answer carries a request id.
func TestServeMetricsAndReadyz(t *testing.T) {
	_, dbURL := storetest.NewWithURL(t)
	const token = "serve-metrics-token-0123456789"
	env := map[string]string{
		"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": "sk_test_123", "STRIPE_API_BASE": "http://127.0.0.1:1",
		"STRIPE_WEBHOOK_SECRET": serveSecret, "PAYDESK_METRICS_TOKEN": token,
	}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	s := startServe(t, env, "--workers", "1")
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string, auth string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp, b.String()
	}
	series := func(text, name string) float64 {
		for _, line := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f
			}
		}
		return -1
	}

	if resp, _ := get("/metrics", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", resp.StatusCode)
	}
	if resp, _ := get("/metrics", "Bearer wrong-token-0123456789"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d", resp.StatusCode)
	}
	resp, before := get("/metrics", "Bearer "+token)
	if resp.StatusCode != http.StatusOK || len(resp.Header.Get("X-Request-Id")) != 24 {
		t.Fatalf("/metrics with the token: %d, X-Request-Id %q\n%s", resp.StatusCode, resp.Header.Get("X-Request-Id"), before)
	}

	send := func(id, apiVersion string) {
		body := []byte(`{"id":"` + id + `","object":"event","api_version":"` + apiVersion + `","created":1700000000,"livemode":false,` +
			`"type":"customer.updated","data":{"object":{"id":"cus_` + id + `","object":"customer","name":"Ada"}}}`)
		req, _ := http.NewRequest(http.MethodPost, s.base+"/webhooks/stripe", bytes.NewReader(body))
		req.Header.Set("Stripe-Signature", stripeapi.SignWebhook(body, serveSecret, time.Now()))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery %s: %d", id, resp.StatusCode)
		}
	}
	send("evt_metrics_serve_1", stripeapi.APIVersion)
	send("evt_metrics_serve_old", "2019-01-01")

	var after string
	waitUntil(t, "both events settled in the metrics", func() bool {
		_, after = get("/metrics", "Bearer "+token)
		return series(after, `paydesk_events_settled_total{outcome="applied"}`) >= 1 &&
			series(after, `paydesk_events_settled_total{outcome="failed"}`) >= 1
	})
	for name, want := range map[string]float64{
		`paydesk_webhook_deliveries_received_total`:                                             2,
		`paydesk_webhook_deliveries_accepted_total`:                                             2,
		`paydesk_events_settled_total{outcome="applied"}`:                                       1,
		`paydesk_events_settled_total{outcome="failed"}`:                                        1,
		`paydesk_event_queue_depth{status="failed"}`:                                            1,
		`paydesk_http_request_duration_seconds_count{route="POST /webhooks/stripe",code="2xx"}`: 2,
	} {
		if got := series(after, name) - max(series(before, name), 0); got != want {
			t.Errorf("%s moved by %v, want %v", name, got, want)
		}
	}
	if n := series(after, `paydesk_event_workers_running`); n != 1 {
		t.Errorf("%v workers running, want 1", n)
	}
	if n := series(after, `paydesk_stripe_requests_total{method="GET",endpoint="/v1/customers/{id}",outcome="network"}`); n < 1 {
		t.Errorf("the failed re-fetch is not counted as a network outcome:\n%s", after)
	}

	resp, body := get("/readyz", "")
	var a readyAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil || resp.StatusCode != http.StatusOK || len(a.Checks) != 3 || a.Checks[2].Name != "workers" {
		t.Errorf("/readyz: %d %s (%v)", resp.StatusCode, body, err)
	}
	if strings.Contains(s.log(), token) {
		t.Errorf("the serve log holds the metrics token:\n%s", s.log())
	}
}
