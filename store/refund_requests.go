package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Refund request statuses (migration 00012).
const (
	RefundRequestPending  = "pending"
	RefundRequestApproved = "approved"
	RefundRequestRejected = "rejected"
	RefundRequestExecuted = "executed"
	RefundRequestFailed   = "failed"
)

var (
	// ErrRefundRequestOpen is CreateRefundRequest's answer when the charge
	// has an open (pending or approved) request already.
	ErrRefundRequestOpen = errors.New("store: the charge has an open refund request")
	// ErrRefundRequestTooLarge is CreateRefundRequest's answer when the
	// charge (as the mirror holds it now) has less left to refund than the
	// request asks, or cannot be refunded at all.
	ErrRefundRequestTooLarge = errors.New("store: the refund request is more than the charge has left to refund")
	// ErrRefundRequestDecided is the answer of a decision on a request
	// that is no longer in the state the decision needs (someone else
	// decided it first).
	ErrRefundRequestDecided = errors.New("store: the refund request was decided already")
)

// RefundRequest is a row of refund_requests with the emails of who asked
// and who decided, and the charge's customer as the mirror has them.
type RefundRequest struct {
	ID           int64      `db:"id"`
	Charge       string     `db:"charge"`
	Amount       int64      `db:"amount"`
	Currency     string     `db:"currency"`
	Reason       string     `db:"reason"`
	Note         string     `db:"note"`
	RequestedBy  int64      `db:"requested_by"`
	RequestedAt  time.Time  `db:"requested_at"`
	Status       string     `db:"status"`
	DecidedBy    *int64     `db:"decided_by"`
	DecidedAt    *time.Time `db:"decided_at"`
	DecisionNote string     `db:"decision_note"`
	// RefundedBefore is the charge's amount_refunded at the approval.
	RefundedBefore *int64  `db:"refunded_before"`
	RefundID       *string `db:"refund_id"`
	Error          *string `db:"error"`
	// Key is the idempotency key the refund is sent to Stripe under.
	Key string `db:"idempotency_key"`
	// FormKey is the key of the refund form the request was made from.
	FormKey string `db:"form_key"`

	RequesterEmail string  `db:"requester_email"`
	DeciderEmail   *string `db:"decider_email"`
	Customer       *string `db:"customer"`
	CustomerName   *string `db:"customer_name"`
	CustomerEmail  *string `db:"customer_email"`
}

// Open says the request still holds part of its charge: pending, or
// approved and on its way to Stripe.
func (r RefundRequest) Open() bool {
	return r.Status == RefundRequestPending || r.Status == RefundRequestApproved
}

const refundRequestSelect = `
SELECT r.id, r.charge, r.amount, r.currency, r.reason, r.note, r.requested_by, r.requested_at, r.status,
       r.decided_by, r.decided_at, r.decision_note, r.refunded_before, r.refund_id, r.error, r.idempotency_key, r.form_key,
       ru.email AS requester_email, du.email AS decider_email,
       c.customer, cu.name AS customer_name, cu.email AS customer_email
FROM refund_requests r
JOIN users ru ON ru.id = r.requested_by
LEFT JOIN users du ON du.id = r.decided_by
LEFT JOIN charges c ON c.id = r.charge
LEFT JOIN customers cu ON cu.id = c.customer`

// NewRefundRequest is a refund asked for, waiting for a second person.
type NewRefundRequest struct {
	Charge   string
	Amount   int64 // minor units of Currency, above zero
	Currency string
	Reason   string
	Note     string
	// RequestedBy is the staff account asking.
	RequestedBy int64
	// Key is the idempotency key the refund will be sent to Stripe under;
	// FormKey the key of the form it was asked with.
	Key, FormKey string
}

// CreateRefundRequest stores a request. The charge must be in the mirror
// in Currency, succeeded and captured, with at least Amount left to refund
// (ErrRefundRequestTooLarge otherwise), and have no open request
// (ErrRefundRequestOpen): both are decided by the database in the one
// statement, so two requests made at once cannot together ask for more
// than the charge has.
func (s *Store) CreateRefundRequest(ctx context.Context, n NewRefundRequest) (RefundRequest, error) {
	if n.Amount <= 0 || n.Key == "" || n.FormKey == "" {
		return RefundRequest{}, fmt.Errorf("store: create refund request: amount and keys are required")
	}
	var id int64
	err := sqlxGet(ctx, s, &id, `
INSERT INTO refund_requests (charge, amount, currency, reason, note, requested_by, idempotency_key, form_key)
SELECT c.id, $2, c.currency, $4, $5, $6, $7, $8
FROM charges c
WHERE c.id = $1 AND c.currency = $3 AND c.status = 'succeeded' AND c.captured
  AND c.amount_captured - c.amount_refunded >= $2
RETURNING id`, n.Charge, n.Amount, n.Currency, cleanText(n.Reason, 0), cleanText(n.Note, 0), n.RequestedBy, n.Key, n.FormKey)
	var pe *pq.Error
	switch {
	case isNoRows(err):
		return RefundRequest{}, ErrRefundRequestTooLarge
	case errors.As(err, &pe) && pe.Code == "23505" && pe.Constraint == "refund_requests_open_idx":
		return RefundRequest{}, ErrRefundRequestOpen
	case err != nil:
		return RefundRequest{}, fmt.Errorf("store: create refund request for %s: %w", n.Charge, err)
	}
	if err := s.notifyCharge(ctx, n.Charge); err != nil {
		return RefundRequest{}, err
	}
	return s.RefundRequest(ctx, id)
}

// RefundRequest returns the request id, or ErrNotFound.
func (s *Store) RefundRequest(ctx context.Context, id int64) (RefundRequest, error) {
	var r RefundRequest
	if err := sqlxGet(ctx, s, &r, refundRequestSelect+` WHERE r.id = $1`, id); err != nil {
		if isNoRows(err) {
			return RefundRequest{}, ErrNotFound
		}
		return RefundRequest{}, fmt.Errorf("store: refund request %d: %w", id, err)
	}
	return r, nil
}

// OpenRefundRequest returns the charge's open (pending or approved)
// request, or ErrNotFound.
func (s *Store) OpenRefundRequest(ctx context.Context, charge string) (RefundRequest, error) {
	var r RefundRequest
	err := sqlxGet(ctx, s, &r, refundRequestSelect+` WHERE r.charge = $1 AND r.status IN ('pending', 'approved')`, charge)
	if err != nil {
		if isNoRows(err) {
			return RefundRequest{}, ErrNotFound
		}
		return RefundRequest{}, fmt.Errorf("store: open refund request of %s: %w", charge, err)
	}
	return r, nil
}

// RefundRequests returns the open requests, oldest first, and the
// decidedLimit most recently decided ones, newest first.
func (s *Store) RefundRequests(ctx context.Context, decidedLimit int) (open, decided []RefundRequest, err error) {
	err = s.snapshot(ctx, func(tx *Store) error {
		if err := sqlxSelect(ctx, tx, &open, refundRequestSelect+`
WHERE r.status IN ('pending', 'approved') ORDER BY r.requested_at, r.id`); err != nil {
			return err
		}
		return sqlxSelect(ctx, tx, &decided, refundRequestSelect+`
WHERE r.status NOT IN ('pending', 'approved') ORDER BY r.decided_at DESC, r.id DESC LIMIT $1`, decidedLimit)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: refund requests: %w", err)
	}
	return open, decided, nil
}

// PendingRefundRequests counts the requests waiting for a decision (the
// navigation's badge).
func (s *Store) PendingRefundRequests(ctx context.Context) (int, error) {
	var n int
	if err := sqlxGet(ctx, s, &n, `SELECT count(*) FROM refund_requests WHERE status = 'pending'`); err != nil {
		return 0, fmt.Errorf("store: count refund requests: %w", err)
	}
	return n, nil
}

// ApproveRefundRequest records that approver approved the pending request
// id, and the charge's amount_refunded it was checked against, before its
// refund is sent to Stripe: from here on no one else can approve or reject
// it. The requester cannot approve their own request.
// ErrRefundRequestDecided when it is no longer pending (or approver asked
// for it).
func (s *Store) ApproveRefundRequest(ctx context.Context, id, approver, refundedBefore int64) error {
	return s.decideRefundRequest(ctx, id, `UPDATE refund_requests
SET status = 'approved', decided_by = $2, decided_at = now(), refunded_before = $3
WHERE id = $1 AND status = 'pending' AND requested_by <> $2
RETURNING charge`, id, approver, refundedBefore)
}

// RejectRefundRequest records that decider rejected the pending request
// id, with an optional note. ErrRefundRequestDecided when it is no longer
// pending.
func (s *Store) RejectRefundRequest(ctx context.Context, id, decider int64, note string) error {
	return s.decideRefundRequest(ctx, id, `UPDATE refund_requests
SET status = 'rejected', decided_by = $2, decided_at = now(), decision_note = $3
WHERE id = $1 AND status = 'pending'
RETURNING charge`, id, decider, cleanText(note, 0))
}

// ExecuteRefundRequest records the refund Stripe made for the approved
// request id. Call it in the transaction that writes the refund through
// (which announces the charge's change).
func (s *Store) ExecuteRefundRequest(ctx context.Context, id int64, refundID string) error {
	res, err := s.q.ExecContext(ctx, `UPDATE refund_requests SET status = 'executed', refund_id = $2
WHERE id = $1 AND status = 'approved'`, id, refundID)
	if err != nil {
		return fmt.Errorf("store: refund request %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrRefundRequestDecided
	}
	return nil
}

// FailRefundRequest records Stripe's refusal of the approved request id.
func (s *Store) FailRefundRequest(ctx context.Context, id int64, errText string) error {
	return s.decideRefundRequest(ctx, id, `UPDATE refund_requests SET status = 'failed', error = $2
WHERE id = $1 AND status = 'approved'
RETURNING charge`, id, cleanText(errText, 0))
}

// decideRefundRequest runs an UPDATE ... RETURNING charge on one request
// and announces the charge's change, so the open pages showing the request
// (the requests page follows its charge) fetch it again.
func (s *Store) decideRefundRequest(ctx context.Context, id int64, query string, args ...any) error {
	var charge string
	if err := sqlxGet(ctx, s, &charge, query, args...); err != nil {
		if isNoRows(err) {
			return ErrRefundRequestDecided
		}
		return fmt.Errorf("store: refund request %d: %w", id, err)
	}
	return s.notifyCharge(ctx, charge)
}

// notifyCharge announces a change of what the pages show of charge (a
// request made or decided); nothing when the mirror lacks the charge.
func (s *Store) notifyCharge(ctx context.Context, charge string) error {
	var livemode bool
	if err := sqlxGet(ctx, s, &livemode, `SELECT livemode FROM charges WHERE id = $1`, charge); err != nil {
		if isNoRows(err) {
			return nil
		}
		return fmt.Errorf("store: notify charge %s: %w", charge, err)
	}
	return s.Notify(ctx, []Change{{Table: "charges", ID: charge, Livemode: livemode}})
}
