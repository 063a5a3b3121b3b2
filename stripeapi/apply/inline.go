package apply

import (
	"context"
	"log/slog"

	"paydesk/store"
)

// Inline applies webhook events in the intake's transaction, before they
// are acknowledged (a store.IntakeApplier): an event settled there is
// stored applied or ignored and never queued, which spares the database
// the queue's index, a worker's claim, the status update and a second
// commit for it. The rules are the workers': the same batch logic decides
// each object by its version (see the package doc). What only Stripe can
// settle (ties within a second, events at another API version, invoices
// with more lines than the event carries) is left queued for the workers,
// since an answer to Stripe must never wait on a call to Stripe.
type Inline struct {
	// Monitor, when set, counts the outcomes committed.
	Monitor *Monitor
	Log     *slog.Logger
}

// ApplyNew implements store.IntakeApplier.
func (in *Inline) ApplyNew(ctx context.Context, tx *store.Store, events []store.Event) ([]store.EventOutcome, error) {
	if len(events) == 0 {
		return nil, nil
	}
	// No client: nothing here fetches. The targets marked for re-fetching
	// get no outcome, so their events stay queued.
	b := newBatch(events, nil)
	if err := b.applyEvents(ctx, tx); err != nil {
		return nil, err
	}
	if err := tx.Notify(ctx, b.changes); err != nil {
		return nil, err
	}
	return b.outcomes, nil
}

// Committed implements store.IntakeApplier.
func (in *Inline) Committed(outcomes []store.EventOutcome) {
	var t tally
	t.count(outcomes)
	in.Monitor.add(t)
}

// RolledBack implements store.IntakeApplier.
func (in *Inline) RolledBack(err error) {
	if in.Log != nil {
		in.Log.Warn("webhook intake: applying events on arrival failed; they are stored queued for the workers", "err", err)
	}
}

var _ store.IntakeApplier = (*Inline)(nil)
