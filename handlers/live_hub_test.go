package handlers

import (
	"strconv"
	"testing"
	"time"

	"paydesk/store"
)

// The hub hands every change to each subscriber; one that does not read
// loses what does not fit its buffer and is told to resync, and neither
// the hub nor the others wait for it.
func TestHubFansOutAndDropsForAStuckSubscriber(t *testing.T) {
	h := &hub{subs: map[*subscriber]struct{}{}}
	a, b := h.subscribe(64), h.subscribe(64)
	stuck := h.subscribe(2)

	src := make(chan store.ChangeNotice)
	done := make(chan struct{})
	go func() { h.run(src); close(done) }()
	const n = 50
	sent := make(chan struct{})
	go func() {
		for i := range n {
			src <- store.ChangeNotice{Change: store.Change{Table: "charges", ID: "ch_" + string(rune('a'+i%26))}}
		}
		close(src)
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("the hub blocked on the stuck subscriber")
	}
	<-done
	for name, sub := range map[string]*subscriber{"a": a, "b": b} {
		if got := len(sub.changes); got != n {
			t.Errorf("subscriber %s holds %d changes, want %d", name, got, n)
		}
		select {
		case <-sub.resync:
			t.Errorf("subscriber %s told to resync though it kept up", name)
		default:
		}
	}
	if got := len(stuck.changes); got != 2 {
		t.Errorf("stuck subscriber holds %d changes, want its buffer's 2", got)
	}
	select {
	case <-stuck.resync:
	default:
		t.Error("the stuck subscriber was not told to resync")
	}
	if !h.changesSince(time.Now().Add(-time.Minute)) {
		t.Error("the hub did not note that changes flow")
	}

	// A resync from the source reaches everyone; an unsubscribed stream
	// gets nothing.
	h.unsubscribe(b)
	h.publish(store.ChangeNotice{Resync: true})
	select {
	case <-a.resync:
	default:
		t.Error("a resync notice did not reach subscriber a")
	}
	select {
	case <-b.resync:
		t.Error("an unsubscribed stream was told to resync")
	default:
	}
}

func TestValidEventName(t *testing.T) {
	for name, want := range map[string]bool{
		"change-ch_3Nx9": true, "change-charges": true, "": false, "change-ch x": false,
		"change-<script>": false, "change-ch\nevent: x": false, "change-ch_é": false,
	} {
		if got := validEventName(name); got != want {
			t.Errorf("validEventName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestStatusFromLag(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	f := newLiveFeed(nil, LiveOptions{})
	for _, tc := range []struct {
		name string
		lag  store.Lag
		want string // "" when not behind
	}{
		{"current", store.Lag{LastSync: ago(time.Hour), AnyEvents: true}, ""},
		{"a few queued for a moment", store.Lag{Queued: 3, OldestQueued: ago(2 * time.Second), AnyEvents: true, LastSync: ago(time.Hour)}, ""},
		{"queued too long", store.Lag{Queued: 3, OldestQueued: ago(5 * time.Minute), AnyEvents: true}, "queued 3 for 5 min"},
		{"failed", store.Lag{Failed: 2, AnyEvents: true}, "failed 2"},
		{"old sync, nothing arrives", store.Lag{LastSync: ago(72 * time.Hour), AnyEvents: true}, "sync 3 days"},
		{"old sync, events queued", store.Lag{LastSync: ago(72 * time.Hour), Queued: 1, OldestQueued: ago(time.Second), AnyEvents: true}, ""},
		{"never synced, events arrived", store.Lag{AnyEvents: true}, ""},
		{"never synced, nothing ever", store.Lag{}, "never"},
	} {
		tc.lag.Now = now
		st := f.statusFromLag(tc.lag)
		var got string
		switch {
		case !st.Behind:
		case st.QueuedFor != "":
			got = "queued " + strconv.FormatInt(st.Queued, 10) + " for " + st.QueuedFor
		case st.Failed > 0:
			got = "failed " + strconv.FormatInt(st.Failed, 10)
		case st.SyncAge != "":
			got = "sync " + st.SyncAge
		case st.NeverSynced:
			got = "never"
		}
		if got != tc.want {
			t.Errorf("%s: %q (%+v), want %q", tc.name, got, st, tc.want)
		}
	}
}
