package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/store/storetest"
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
