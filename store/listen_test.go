package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// nextNotice waits up to 5 s for the listener's next notice.
func nextNotice(t *testing.T, l *store.Listener) store.ChangeNotice {
	t.Helper()
	select {
	case n, ok := <-l.Changes():
		if !ok {
			t.Fatal("the listener's channel closed")
		}
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no notice within 5 s")
	}
	return store.ChangeNotice{}
}

// noNotice fails if the listener delivers anything within d.
func noNotice(t *testing.T, l *store.Listener, d time.Duration) {
	t.Helper()
	select {
	case n := <-l.Changes():
		t.Fatalf("unexpected notice %+v", n)
	case <-time.After(d):
	}
}

func listen(t *testing.T, url string) *store.Listener {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := store.Listen(ctx, url, store.ListenOptions{MinReconnect: 20 * time.Millisecond, MaxReconnect: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestListenerDeliversCommittedChangesOnly(t *testing.T) {
	st, url := storetest.NewWithURL(t)
	l := listen(t, url)
	ctx := context.Background()

	errRollback := errors.New("roll back")
	err := st.InTx(ctx, func(tx *store.Store) error {
		if err := tx.Notify(ctx, []store.Change{{Table: "charges", ID: "ch_rolledback"}}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	// Inside a transaction nothing is sent before the commit.
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		_ = st.InTx(ctx, func(tx *store.Store) error {
			if err := tx.Notify(ctx, []store.Change{{Table: "charges", ID: "ch_1"}, {Table: "refunds", ID: "re_1", Livemode: true}}); err != nil {
				t.Error(err)
			}
			noNotice(t, l, 300*time.Millisecond)
			return nil
		})
	}()
	<-committed
	first, second := nextNotice(t, l), nextNotice(t, l)
	if first != (store.ChangeNotice{Change: store.Change{Table: "charges", ID: "ch_1"}}) {
		t.Errorf("first notice %+v, want ch_1 of charges", first)
	}
	if second != (store.ChangeNotice{Change: store.Change{Table: "refunds", ID: "re_1", Livemode: true}}) {
		t.Errorf("second notice %+v, want re_1 of refunds (live mode)", second)
	}
	// The rolled-back change never arrives.
	noNotice(t, l, 200*time.Millisecond)
}

func TestListenerResyncsAfterReconnect(t *testing.T) {
	st, url := storetest.NewWithURL(t)
	l := listen(t, url)
	ctx := context.Background()
	var killed int
	if err := st.DB().GetContext(ctx, &killed, `
SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'listen%') AS t`); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listening connections, want 1", killed)
	}
	if n := nextNotice(t, l); !n.Resync {
		t.Fatalf("after the connection loss: %+v, want a resync", n)
	}
	// Listening again: new changes arrive.
	if err := st.Notify(ctx, []store.Change{{Table: "invoices", ID: "in_after"}}); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, l); n.Change.ID != "in_after" || n.Resync {
		t.Fatalf("after the reconnect: %+v, want in_after", n)
	}
}

func TestListenerDropsForASlowReaderAndOwesAResync(t *testing.T) {
	st, url := storetest.NewWithURL(t)
	ctx := context.Background()
	l, err := store.Listen(ctx, url, store.ListenOptions{Buffer: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	changes := []store.Change{{Table: "charges", ID: "ch_1"}, {Table: "charges", ID: "ch_2"}, {Table: "charges", ID: "ch_3"}, {Table: "charges", ID: "ch_4"}}
	if err := st.Notify(ctx, changes); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // all four reach the listener, which keeps two
	got := []store.ChangeNotice{nextNotice(t, l), nextNotice(t, l), nextNotice(t, l)}
	if got[0].Change.ID != "ch_1" || got[1].Change.ID != "ch_2" || !got[2].Resync {
		t.Fatalf("got %+v, want ch_1, ch_2, then a resync for what was dropped", got)
	}
	noNotice(t, l, 200*time.Millisecond)
}

func TestListenerClose(t *testing.T) {
	_, url := storetest.NewWithURL(t)
	l, err := store.Listen(context.Background(), url, store.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	select {
	case _, ok := <-l.Changes():
		if ok {
			t.Fatal("a notice after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Changes not closed after Close")
	}
}

func TestListenGivesUpWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// Nothing listens on this port.
	_, err := store.Listen(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", store.ListenOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
}

func TestMirrorLag(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	lag, err := st.MirrorLag(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Queued != 0 || lag.Failed != 0 || lag.OldestQueued != nil || lag.LastSync != nil {
		t.Fatalf("empty database: %+v", lag)
	}
	if _, err := st.DB().ExecContext(ctx, `
INSERT INTO events (id, type, created, livemode, data, source, status, received_at) VALUES
 ('evt_q1', 'charge.updated', 1, false, '{}', 'webhook', 'queued', now() - interval '1 hour'),
 ('evt_q2', 'charge.updated', 1, false, '{}', 'webhook', 'queued', now()),
 ('evt_f1', 'charge.updated', 1, false, '{}', 'webhook', 'failed', now()),
 ('evt_a1', 'charge.updated', 1, false, '{}', 'webhook', 'applied', now() - interval '2 hours');
INSERT INTO sync_runs (livemode, objects, until, finished_at, status) VALUES
 (false, '{charges}', now(), now() - interval '3 days', 'done'),
 (false, '{charges}', now(), now() - interval '2 days', 'done'),
 (true, '{charges}', now(), now() - interval '1 day', 'done'),
 (false, '{charges}', now(), NULL, 'running')`); err != nil {
		t.Fatal(err)
	}
	lag, err = st.MirrorLag(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Queued != 2 || lag.Failed != 1 {
		t.Errorf("queued %d failed %d, want 2 and 1", lag.Queued, lag.Failed)
	}
	if lag.OldestQueued == nil || lag.Now.Sub(*lag.OldestQueued) < 59*time.Minute {
		t.Errorf("oldest queued %v (now %v), want an hour ago", lag.OldestQueued, lag.Now)
	}
	if lag.LastSync == nil {
		t.Fatal("no last sync")
	}
	if d := lag.Now.Sub(*lag.LastSync); d < 47*time.Hour || d > 49*time.Hour {
		t.Errorf("last sync %v (now %v), want the test-mode run of two days ago", lag.LastSync, lag.Now)
	}
}
