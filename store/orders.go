package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Order statuses are the action statuses: ActionPending, ActionDone,
// ActionFailed.

// Order is a row of orders: one purchase received on the intake API.
type Order struct {
	OrderID     string          `db:"order_id"`
	TokenID     int64           `db:"token_id"`
	RequestHash []byte          `db:"request_hash"`
	Status      string          `db:"status"`
	InvoiceID   *string         `db:"invoice_id"`
	CustomerID  *string         `db:"customer_id"`
	Response    json.RawMessage `db:"response"`
	Error       *string         `db:"error"`
	Attempts    int             `db:"attempts"`
	CreatedAt   time.Time       `db:"created_at"`
	StartedAt   time.Time       `db:"started_at"`
	FinishedAt  *time.Time      `db:"finished_at"`
}

const orderColumns = `order_id, token_id, request_hash, status, invoice_id, customer_id, coalesce(response, 'null') AS response, error, attempts,
created_at, started_at, finished_at`

// ErrOrderConflict is returned by ClaimOrder when the order id was used
// before for a request with another body.
var ErrOrderConflict = errors.New("store: order id used for another request")

// ClaimOrder reserves an order id for one run of its Stripe calls. It
// returns claimed true when the caller may call Stripe: the order is new,
// or its last attempt failed, or it has been pending longer than
// ActionStale (its request died; Stripe's idempotency keys make the retry
// answer the original objects). Otherwise it returns the order as it
// stands (pending in another request, or done). A request whose hash
// differs from the stored one gets ErrOrderConflict with the stored order.
func (s *Store) ClaimOrder(ctx context.Context, orderID string, tokenID int64, requestHash []byte) (Order, bool, error) {
	var o Order
	err := sqlxGet(ctx, s, &o, `
INSERT INTO orders AS o (order_id, token_id, request_hash, status)
VALUES ($1, $2, $3, 'pending')
ON CONFLICT (order_id) DO UPDATE
SET status = 'pending', token_id = EXCLUDED.token_id, error = NULL, attempts = o.attempts + 1,
    started_at = now(), finished_at = NULL
WHERE o.request_hash = EXCLUDED.request_hash
  AND (o.status = 'failed' OR o.status = 'pending' AND o.started_at < now() - make_interval(secs => $4))
RETURNING `+orderColumns, orderID, tokenID, requestHash, ActionStale.Seconds())
	switch {
	case err == nil:
		return o, true, nil
	case !isNoRows(err):
		return Order{}, false, fmt.Errorf("store: claim order %s: %w", orderID, err)
	}
	o, err = s.OrderByID(ctx, orderID)
	if err != nil {
		return Order{}, false, err
	}
	if !bytes.Equal(o.RequestHash, requestHash) {
		return o, false, ErrOrderConflict
	}
	return o, false, nil
}

// OrderByID returns an order, or ErrNotFound.
func (s *Store) OrderByID(ctx context.Context, orderID string) (Order, error) {
	var o Order
	err := sqlxGet(ctx, s, &o, `SELECT `+orderColumns+` FROM orders WHERE order_id = $1`, orderID)
	if isNoRows(err) {
		return Order{}, ErrNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("store: order %s: %w", orderID, err)
	}
	return o, nil
}

// OrderOutcome is how a claimed order ended.
type OrderOutcome struct {
	// Status is ActionDone or ActionFailed.
	Status                string
	InvoiceID, CustomerID string
	// Response is the JSON answer given to the caller, repeated to
	// retries (done only).
	Response json.RawMessage
	// Error is Stripe's refusal (failed only); a failed order may be
	// claimed again.
	Error string
}

// FinishOrder records how a claimed order ended. Call it in the
// transaction that writes Stripe's answer through and the audit row.
func (s *Store) FinishOrder(ctx context.Context, orderID string, out OrderOutcome) error {
	if out.Status != ActionDone && out.Status != ActionFailed {
		return fmt.Errorf("store: finish order: unknown status %q", out.Status)
	}
	var response *string
	if len(out.Response) > 0 {
		r := string(out.Response)
		response = &r
	}
	res, err := s.q.ExecContext(ctx, `UPDATE orders
SET status = $2, invoice_id = NULLIF($3, ''), customer_id = NULLIF($4, ''), response = $5::jsonb,
    error = NULLIF($6, ''), finished_at = now()
WHERE order_id = $1 AND status = 'pending'`, orderID, out.Status, out.InvoiceID, out.CustomerID, response,
		cleanText(out.Error, 0))
	if err != nil {
		return fmt.Errorf("store: finish order %s: %w", orderID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("store: finish order %s: it is not pending", orderID)
	}
	return nil
}

// CustomerByEmail returns the newest live customer of the mode whose
// email is email (compared case-insensitively), or ErrNotFound. It reads
// customers_email_sort_idx.
func (s *Store) CustomerByEmail(ctx context.Context, email string, livemode bool) (Customer, error) {
	var c Customer
	err := sqlxGet(ctx, s, &c, `SELECT id, livemode, email, name, phone, description, currency, balance, delinquent,
       deleted, created, data, version, synced_at
FROM customers
WHERE lower(coalesce(email, '')) = $1 AND livemode = $2 AND NOT deleted
ORDER BY created DESC, id DESC LIMIT 1`, strings.ToLower(email), livemode)
	if isNoRows(err) {
		return Customer{}, ErrNotFound
	}
	if err != nil {
		return Customer{}, fmt.Errorf("store: customer by email: %w", err)
	}
	return c, nil
}

// WriteThroughCustomer stores a customer Stripe has just created or
// changed and announces it to open pages. A stored version newer than the
// answer's (a webhook applied meanwhile) is kept. Call it inside the
// action's transaction.
func (s *Store) WriteThroughCustomer(ctx context.Context, c Customer) error {
	if _, err := s.UpsertCustomers(ctx, []Customer{c}); err != nil {
		return err
	}
	return s.Notify(ctx, []Change{{Table: "customers", ID: c.ID, Livemode: c.Livemode}})
}
