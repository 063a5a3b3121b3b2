package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SyncProgress is how far the latest backfill of a mode got, per object
// type: what /metrics reports as sync progress.
type SyncProgress struct {
	// Run is the latest run (running, done or abandoned); nil when no
	// backfill ever ran in the mode.
	Run *SyncRun
	// Objects are the run's object types in name order.
	Objects []SyncObjectProgress
}

// SyncObjectProgress is one object type of a run.
type SyncObjectProgress struct {
	Object string `db:"object"`
	// Fetched is how many objects the run stored so far.
	Fetched int64 `db:"fetched"`
	// WindowsLeft is how many created-windows remain to be listed.
	WindowsLeft int64 `db:"windows_left"`
}

// SyncProgress reads the latest run of the mode (livemode) and its
// windows' counters.
func (s *Store) SyncProgress(ctx context.Context, livemode bool) (SyncProgress, error) {
	var p SyncProgress
	var run SyncRun
	err := sqlxGet(ctx, s, &run, `SELECT * FROM sync_runs WHERE livemode = $1 ORDER BY id DESC LIMIT 1`, livemode)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("store: sync progress: %w", err)
	}
	p.Run = &run
	if err := sqlxSelect(ctx, s, &p.Objects, `
SELECT object, sum(fetched)::bigint AS fetched, count(*) FILTER (WHERE NOT done) AS windows_left
FROM sync_windows WHERE run_id = $1 GROUP BY object ORDER BY object`, run.ID); err != nil {
		return p, fmt.Errorf("store: sync progress of run %d: %w", run.ID, err)
	}
	return p, nil
}
