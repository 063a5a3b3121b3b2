package store

import (
	"context"
	"fmt"
	"time"
)

// Lag is how far the mirror may be behind Stripe: the webhook events not
// yet applied and when the last backfill finished.
type Lag struct {
	Queued int64 `db:"queued"` // events waiting to be applied (or re-fetched)
	Failed int64 `db:"failed"` // events whose last attempt failed, to be retried
	// OldestQueued is when the oldest queued event was received (nil when
	// none is queued).
	OldestQueued *time.Time `db:"oldest_queued"`
	// LastSync is when the last finished `paydesk sync` of the mode
	// finished (nil when none has).
	LastSync *time.Time `db:"last_sync"`
	// AnyEvents: some webhook event has ever been received.
	AnyEvents bool `db:"any_events"`
	// Now is the database's clock, to compare the times above with.
	Now time.Time `db:"now"`
}

// The queue counts read only the rows of the partial index
// events_queue_idx (status queued or failed), however long the history of
// applied events grows; sync_runs has a row per backfill.
const mirrorLagSQL = `
SELECT count(*) FILTER (WHERE e.status = 'queued') AS queued,
       count(*) FILTER (WHERE e.status = 'failed') AS failed,
       min(e.received_at) FILTER (WHERE e.status = 'queued') AS oldest_queued,
       (SELECT max(finished_at) FROM sync_runs WHERE livemode = $1 AND status = 'done') AS last_sync,
       EXISTS (SELECT 1 FROM events) AS any_events,
       now() AS now
FROM events e
WHERE e.status IN ('queued', 'failed')`

// MirrorLag reports the event queue's backlog and the last finished sync
// of the mode (livemode).
func (s *Store) MirrorLag(ctx context.Context, livemode bool) (Lag, error) {
	var lag Lag
	if err := sqlxGet(ctx, s, &lag, mirrorLagSQL, livemode); err != nil {
		return Lag{}, fmt.Errorf("store: mirror lag: %w", err)
	}
	return lag, nil
}
