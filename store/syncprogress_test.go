package store_test

import (
	"context"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

func TestSyncProgress(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	if p, err := st.SyncProgress(ctx, false); err != nil || p.Run != nil || len(p.Objects) != 0 {
		t.Fatalf("before any sync: %+v, %v", p, err)
	}
	// A finished run, then a second one half way through.
	first, err := st.StartSync(ctx, store.SyncRun{Objects: []string{"customer"}, Until: time.Now()},
		[]store.SyncWindow{{Object: "customer", Lo: 0, Hi: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.FinishSync(ctx, first.ID, "done"); err != nil {
		t.Fatal(err)
	}
	run, err := st.StartSync(ctx, store.SyncRun{Objects: []string{"customer", "charge"}, Until: time.Now()},
		[]store.SyncWindow{{Object: "customer", Lo: 0, Hi: 100}, {Object: "customer", Lo: 100, Hi: 200}, {Object: "charge", Lo: 0, Hi: 200}})
	if err != nil {
		t.Fatal(err)
	}
	windows, err := st.SyncWindows(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, fetched := range []int64{250, 40, 7} {
		w := windows[i]
		w.Fetched, w.Done = fetched, i == 0
		if err := st.AdvanceSyncWindow(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	// The other mode has no run.
	if p, err := st.SyncProgress(ctx, true); err != nil || p.Run != nil {
		t.Fatalf("live mode: %+v, %v", p, err)
	}
	p, err := st.SyncProgress(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.Run == nil || p.Run.ID != run.ID || p.Run.Status != "running" {
		t.Fatalf("run %+v, want the running one (%d)", p.Run, run.ID)
	}
	want := []store.SyncObjectProgress{{Object: "charge", Fetched: 7, WindowsLeft: 1}, {Object: "customer", Fetched: 290, WindowsLeft: 1}}
	if len(p.Objects) != 2 || p.Objects[0] != want[0] || p.Objects[1] != want[1] {
		t.Fatalf("objects %+v, want %+v", p.Objects, want)
	}
}
