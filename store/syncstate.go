package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// SyncRun is one backfill: some object types, fetched in created-windows
// until Until. A run that was interrupted stays "running" and the next
// `paydesk sync` resumes it.
type SyncRun struct {
	ID         int64          `db:"id"`
	Livemode   bool           `db:"livemode"`
	Objects    pq.StringArray `db:"objects"`
	Since      *time.Time     `db:"since"`
	Until      time.Time      `db:"until"`
	StartedAt  time.Time      `db:"started_at"`
	ResumedAt  *time.Time     `db:"resumed_at"`
	FinishedAt *time.Time     `db:"finished_at"`
	Status     string         `db:"status"`
}

// SyncWindow is the part of a run that lists one object type created in
// [Lo, Hi) (Unix seconds). Cursor is the id of the last object stored, the
// starting_after of the next page.
type SyncWindow struct {
	ID      int64   `db:"id"`
	RunID   int64   `db:"run_id"`
	Object  string  `db:"object"`
	Lo      int64   `db:"lo"`
	Hi      int64   `db:"hi"`
	Cursor  *string `db:"cursor"`
	Fetched int64   `db:"fetched"`
	Pages   int64   `db:"pages"`
	Done    bool    `db:"done"`
}

// RunningSync returns the unfinished run for the mode, or ErrNotFound.
func (s *Store) RunningSync(ctx context.Context, livemode bool) (SyncRun, error) {
	var r SyncRun
	err := sqlxGet(ctx, s, &r, `SELECT * FROM sync_runs WHERE livemode = $1 AND status = 'running'`, livemode)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("store: load running sync: %w", err)
	}
	return r, nil
}

// StartSync records a new run and its first windows.
func (s *Store) StartSync(ctx context.Context, run SyncRun, windows []SyncWindow) (SyncRun, error) {
	err := s.InTx(ctx, func(tx *Store) error {
		if err := sqlxGet(ctx, tx, &run, `
INSERT INTO sync_runs (livemode, objects, since, until) VALUES ($1, $2, $3, $4) RETURNING *`,
			run.Livemode, run.Objects, run.Since, run.Until); err != nil {
			return err
		}
		for _, w := range windows {
			w.RunID = run.ID
			if _, err := tx.insertWindow(ctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return run, fmt.Errorf("store: start sync: %w", err)
	}
	return run, nil
}

// ResumeSync notes that an interrupted run is being continued.
func (s *Store) ResumeSync(ctx context.Context, id int64) error {
	if _, err := s.q.ExecContext(ctx, `UPDATE sync_runs SET resumed_at = now() WHERE id = $1`, id); err != nil {
		return fmt.Errorf("store: resume sync %d: %w", id, err)
	}
	return nil
}

// FinishSync closes a run as "done" or "abandoned".
func (s *Store) FinishSync(ctx context.Context, id int64, status string) error {
	if _, err := s.q.ExecContext(ctx, `UPDATE sync_runs SET status = $2, finished_at = now() WHERE id = $1`, id, status); err != nil {
		return fmt.Errorf("store: finish sync %d: %w", id, err)
	}
	return nil
}

// SyncWindows returns every window of a run, the finished ones too.
func (s *Store) SyncWindows(ctx context.Context, runID int64) ([]SyncWindow, error) {
	var ws []SyncWindow
	if err := sqlxSelect(ctx, s, &ws, `SELECT * FROM sync_windows WHERE run_id = $1 ORDER BY id`, runID); err != nil {
		return nil, fmt.Errorf("store: load sync windows: %w", err)
	}
	return ws, nil
}

// AdvanceSyncWindow saves a window's cursor, counters and done flag. Call it
// in the transaction that stores the page, so the checkpoint and the data
// commit together.
func (s *Store) AdvanceSyncWindow(ctx context.Context, w SyncWindow) error {
	_, err := s.q.ExecContext(ctx, `
UPDATE sync_windows SET lo = $2, cursor = $3, fetched = $4, pages = $5, done = $6 WHERE id = $1`,
		w.ID, w.Lo, w.Cursor, w.Fetched, w.Pages, w.Done)
	if err != nil {
		return fmt.Errorf("store: advance sync window %d: %w", w.ID, err)
	}
	return nil
}

// SplitSyncWindow hands the older part [w.Lo, mid) of a window to a new
// window, which it returns; w keeps [mid, w.Hi) and its cursor.
func (s *Store) SplitSyncWindow(ctx context.Context, w *SyncWindow, mid int64) (SyncWindow, error) {
	if mid <= w.Lo || mid >= w.Hi {
		return SyncWindow{}, fmt.Errorf("store: split window %d [%d,%d) at %d: out of range", w.ID, w.Lo, w.Hi, mid)
	}
	older := SyncWindow{RunID: w.RunID, Object: w.Object, Lo: w.Lo, Hi: mid}
	err := s.InTx(ctx, func(tx *Store) error {
		var err error
		if older.ID, err = tx.insertWindow(ctx, older); err != nil {
			return err
		}
		_, err = tx.q.ExecContext(ctx, `UPDATE sync_windows SET lo = $2 WHERE id = $1`, w.ID, mid)
		return err
	})
	if err != nil {
		return SyncWindow{}, fmt.Errorf("store: split sync window %d: %w", w.ID, err)
	}
	w.Lo = mid
	return older, nil
}

func (s *Store) insertWindow(ctx context.Context, w SyncWindow) (int64, error) {
	var id int64
	err := sqlxGet(ctx, s, &id, `
INSERT INTO sync_windows (run_id, object, lo, hi, cursor) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		w.RunID, w.Object, w.Lo, w.Hi, w.Cursor)
	return id, err
}
