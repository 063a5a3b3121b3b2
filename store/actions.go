package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Action statuses.
const (
	ActionPending = "pending"
	ActionDone    = "done"
	ActionFailed  = "failed"
)

// ActionStale is how long a pending action may stay pending before another
// request may take it over: its own request died between claiming it and
// recording Stripe's answer. Stripe's answers come in seconds; its
// idempotency keys last 24 hours, so the retry gets the original result.
const ActionStale = 2 * time.Minute

// Action is a row of stripe_actions: one request to Stripe under one
// idempotency key.
type Action struct {
	Key        string     `db:"idempotency_key"`
	Action     string     `db:"action"`
	Target     string     `db:"target"`
	ActorID    *int64     `db:"actor_id"`
	Status     string     `db:"status"`
	ResultID   *string    `db:"result_id"`
	Error      *string    `db:"error"`
	Attempts   int        `db:"attempts"`
	StartedAt  time.Time  `db:"started_at"`
	FinishedAt *time.Time `db:"finished_at"`
}

const actionColumns = `idempotency_key, action, target, actor_id, status, result_id, error, attempts, started_at, finished_at`

// ClaimAction reserves key for one request to Stripe. It returns claimed
// true when the caller may send the request: the key is new, or its last
// attempt failed, or it has been pending longer than ActionStale. Otherwise
// it returns the action as it stands (pending in another request, or done)
// and the caller must not send anything. A key claimed for another action
// or target is an error: keys are derived from both.
func (s *Store) ClaimAction(ctx context.Context, key, action, target string, actorID *int64) (Action, bool, error) {
	var a Action
	err := sqlxGet(ctx, s, &a, `
INSERT INTO stripe_actions AS a (idempotency_key, action, target, actor_id, status)
VALUES ($1, $2, $3, $4, 'pending')
ON CONFLICT (idempotency_key) DO UPDATE
SET status = 'pending', actor_id = EXCLUDED.actor_id, error = NULL, attempts = a.attempts + 1,
    started_at = now(), finished_at = NULL
WHERE a.action = EXCLUDED.action AND a.target = EXCLUDED.target
  AND (a.status = 'failed' OR a.status = 'pending' AND a.started_at < now() - make_interval(secs => $5))
RETURNING `+actionColumns, key, action, target, actorID, ActionStale.Seconds())
	switch {
	case err == nil:
		return a, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return Action{}, false, fmt.Errorf("store: claim action %s: %w", action, err)
	}
	a, err = s.ActionByKey(ctx, key)
	if err != nil {
		return Action{}, false, err
	}
	if a.Action != action || a.Target != target {
		return Action{}, false, fmt.Errorf("store: idempotency key %q belongs to %s of %s", key, a.Action, a.Target)
	}
	return a, false, nil
}

// ActionByKey returns the action under key, or ErrNotFound.
func (s *Store) ActionByKey(ctx context.Context, key string) (Action, error) {
	var a Action
	err := sqlxGet(ctx, s, &a, `SELECT `+actionColumns+` FROM stripe_actions WHERE idempotency_key = $1`, key)
	if errors.Is(err, sql.ErrNoRows) {
		return Action{}, ErrNotFound
	}
	if err != nil {
		return Action{}, fmt.Errorf("store: action %s: %w", key, err)
	}
	return a, nil
}

// FinishAction records how a claimed action ended: done with the id of
// what Stripe made, or failed with Stripe's refusal (which frees the key
// for another attempt). Call it in the transaction that writes Stripe's
// answer through, so the two commit together.
func (s *Store) FinishAction(ctx context.Context, key, status, resultID, errText string) error {
	if status != ActionDone && status != ActionFailed {
		return fmt.Errorf("store: finish action: unknown status %q", status)
	}
	res, err := s.q.ExecContext(ctx, `UPDATE stripe_actions
SET status = $2, result_id = NULLIF($3, ''), error = NULLIF($4, ''), finished_at = now()
WHERE idempotency_key = $1 AND status = 'pending'`, key, status, resultID, cleanText(errText, 0))
	if err != nil {
		return fmt.Errorf("store: finish action %s: %w", key, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: finish action %s: it is not pending", key)
	}
	return nil
}

// RefundWriteThrough is what a refund Stripe made changes in the mirror.
type RefundWriteThrough struct {
	// Refund is Stripe's answer, as a row.
	Refund Refund
	// Charge is the refunded charge's id.
	Charge string
	// RefundedBefore is the charge's amount_refunded the refund was
	// checked against. The charge's amount_refunded becomes at least
	// RefundedBefore + the refund's amount, and refunded turns true once
	// nothing is left.
	RefundedBefore int64
}

// WriteThroughRefund stores a refund Stripe has just made and adds it to
// its charge, so the pages are right before Stripe's webhooks arrive. The
// charge keeps its version: the charge.refunded event that follows is
// newer and replaces the row with Stripe's own figures (which these
// equal). If that event was applied first, the charge already counts the
// refund: amount_refunded is raised to RefundedBefore + the refund, never
// added to twice. A pending refund counts, as it does in Stripe's
// amount_refunded; a refund that already failed or was canceled does not.
// Call it inside a transaction with the action's FinishAction and audit
// row.
func (s *Store) WriteThroughRefund(ctx context.Context, w RefundWriteThrough) error {
	if _, err := s.UpsertRefunds(ctx, []Refund{w.Refund}); err != nil {
		return err
	}
	if st := w.Refund.Status; st != nil && (*st == "failed" || *st == "canceled") {
		return s.Notify(ctx, []Change{{Table: "refunds", ID: w.Refund.ID, Livemode: w.Refund.Livemode}})
	}
	var livemode bool
	err := sqlxGet(ctx, s, &livemode, `
WITH n AS (
    SELECT id, greatest(amount_refunded, $2::bigint + $3::bigint) AS refunded_amount
    FROM charges WHERE id = $1 AND currency = $4 FOR UPDATE
)
UPDATE charges AS c SET
    amount_refunded = n.refunded_amount,
    refunded = n.refunded_amount >= c.amount_captured,
    data = c.data || jsonb_build_object('amount_refunded', n.refunded_amount, 'refunded', n.refunded_amount >= c.amount_captured),
    synced_at = now()
FROM n WHERE c.id = n.id
RETURNING c.livemode`, w.Charge, w.RefundedBefore, w.Refund.Amount, w.Refund.Currency)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: write through refund %s: charge %s in %s is not in the mirror", w.Refund.ID, w.Charge, w.Refund.Currency)
	case err != nil:
		return fmt.Errorf("store: write through refund %s: %w", w.Refund.ID, err)
	}
	return s.Notify(ctx, []Change{
		{Table: "refunds", ID: w.Refund.ID, Livemode: w.Refund.Livemode},
		{Table: "charges", ID: w.Charge, Livemode: livemode},
	})
}
