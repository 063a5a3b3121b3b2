package apply_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"paydesk/stripeapi"
	"paydesk/stripeapi/apply"
	"paydesk/stripeapi/stripefake"
)

// TestMonitorCountsCommittedOutcomes: one applied, one ignored and one
// failed event (its object cannot be re-fetched) are counted once each.
func TestMonitorCountsCommittedOutcomes(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Customers: 1, Seed: 21})
	api, err := stripeapi.New(stripeapi.Config{SecretKey: fakeKey, APIBase: e.srv.URL, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := &apply.Monitor{}
	e.w = apply.NewWorker(e.st, api, apply.Options{Monitor: m})
	e.enqueue("customer.updated", firstOf(e.data.Customers()), 100, pinned)
	e.enqueue("payout.paid", json.RawMessage(`{"id":"po_1","object":"payout","amount":100}`), 100, pinned)
	e.enqueue("charge.updated", json.RawMessage(`{"id":"ch_missing","object":"charge"}`), 100, "2019-01-01")
	e.drain()
	if got, want := m.Outcomes(), (apply.Outcomes{Applied: 1, Ignored: 1, Failed: 1}); got != want {
		t.Fatalf("outcomes %+v, want %+v", got, want)
	}
}

// TestMonitorCheck: a registered worker that never ran, one that runs, one
// that stopped, and one stuck while events wait.
func TestMonitorCheck(t *testing.T) {
	e := newEnv(t, stripefake.Dataset{Seed: 22})
	m := &apply.Monitor{Stall: time.Minute}
	if err := m.Check(time.Now(), false); err == nil || !strings.Contains(err.Error(), "no event worker") {
		t.Fatalf("no workers: %v", err)
	}
	w := apply.NewWorker(e.st, nil, apply.Options{Monitor: m, Idle: time.Millisecond})
	if err := m.Check(time.Now(), true); err != nil {
		t.Fatalf("a worker just made, within the stall time: %v", err)
	}
	if err := m.Check(time.Now().Add(2*time.Minute), false); err == nil || !strings.Contains(err.Error(), "worker 1 never started") {
		t.Fatalf("a worker never started: %v", err)
	}

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	for m.Workers()[0].LastProgress.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the worker never finished a round")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := m.Check(time.Now(), true); err != nil {
		t.Fatalf("a running worker: %v", err)
	}
	// Seen from three minutes on, its last round is too old while events
	// wait, and fine when none do.
	later := time.Now().Add(3 * time.Minute)
	if err := m.Check(later, true); err == nil || !strings.Contains(err.Error(), "worker 1 has made no progress") {
		t.Fatalf("a stuck worker with events waiting: %v", err)
	}
	if err := m.Check(later, false); err != nil {
		t.Fatalf("a quiet worker with nothing to do: %v", err)
	}

	stop()
	<-done
	if st := m.Workers()[0]; !st.Started || !st.Stopped {
		t.Fatalf("status after Run returned: %+v", st)
	}
	if err := m.Check(time.Now(), false); err == nil || !strings.Contains(err.Error(), "worker 1 stopped") {
		t.Fatalf("a stopped worker: %v", err)
	}
}
