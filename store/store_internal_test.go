package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

func TestWithSessionSettings(t *testing.T) {
	cases := map[string]string{
		"postgres://u:p@h:5432/db":                     "postgres://u:p@h:5432/db?jit=off&plan_cache_mode=force_custom_plan",
		"postgres://h/db?sslmode=disable":              "postgres://h/db?jit=off&plan_cache_mode=force_custom_plan&sslmode=disable",
		"postgres://h/db?plan_cache_mode=auto&jit=on":  "postgres://h/db?jit=on&plan_cache_mode=auto",
		"host=h dbname=db user=u":                      "host=h dbname=db user=u plan_cache_mode=force_custom_plan jit=off",
		"host=h dbname=db plan_cache_mode=auto jit=on": "host=h dbname=db plan_cache_mode=auto jit=on",
	}
	for in, want := range cases {
		if got := withSessionSettings(in); got != want {
			t.Errorf("withSessionSettings(%q) = %q, want %q", in, got, want)
		}
	}
}

// Concurrent lookups of one search share the first one's query; a later
// lookup, or one of another text, runs its own; a transaction's runs its
// own.
func TestTermFlightShares(t *testing.T) {
	var f termFlight
	s := &Store{}
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{})
	lookup := func(context.Context) (map[string]foundTerms, error) {
		if calls.Add(1) == 1 {
			close(started)
			<-release
		}
		return map[string]foundTerms{"email": {terms: []string{"ann@example.com"}}}, nil
	}
	results := make(chan map[string]foundTerms, 2)
	go func() {
		r, _ := f.do(context.Background(), s, "ann", lookup)
		results <- r
	}()
	<-started
	go func() {
		r, _ := f.do(context.Background(), s, "ann", lookup)
		results <- r
	}()
	// The second caller joins the first's call instead of looking up.
	for {
		f.mu.Lock()
		shared := f.calls["ann"].shared
		f.mu.Unlock()
		if shared == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range 2 {
		if r := <-results; len(r["email"].terms) != 1 {
			t.Fatalf("shared answer %v", r)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d lookups for two concurrent searches, want 1", n)
	}
	if _, err := f.do(context.Background(), s, "ann", lookup); err != nil || calls.Load() != 2 {
		t.Fatalf("a later search did not look up again: %d lookups, %v", calls.Load(), err)
	}
	if _, err := f.do(context.Background(), &Store{tx: &sqlx.Tx{}}, "ann", lookup); err != nil || calls.Load() != 3 {
		t.Fatalf("a transaction's search did not look up on its own: %d lookups, %v", calls.Load(), err)
	}
}
