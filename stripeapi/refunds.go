package stripeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/refund"

	"paydesk/store"
)

// Refunds is the /v1/refunds endpoint.
type Refunds struct {
	c   *Client
	api refund.Client
}

// RefundCreate describes a refund of a charge.
type RefundCreate struct {
	Charge string
	// Amount is in minor units; 0 refunds whatever is left of the charge.
	Amount int64
	// Reason is "", duplicate, fraudulent or requested_by_customer.
	Reason   string
	Metadata map[string]string
}

// Get fetches a refund.
func (r *Refunds) Get(ctx context.Context, id string) (*stripe.Refund, error) {
	if err := checkID("refund", id); err != nil {
		return nil, err
	}
	params := &stripe.RefundParams{}
	return read(ctx, r.c, &params.Params, func() (*stripe.Refund, error) { return r.api.Get(id, params) })
}

// Create refunds a charge, fully or in part.
func (r *Refunds) Create(ctx context.Context, idempotencyKey string, p RefundCreate) (*stripe.Refund, error) {
	params := &stripe.RefundParams{
		Charge:   optString(p.Charge),
		Reason:   optString(p.Reason),
		Metadata: p.Metadata,
	}
	if p.Amount != 0 {
		params.Amount = stripe.Int64(p.Amount)
	}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Refund, error) { return r.api.New(params) })
}

// Update merges metadata into a refund's (a key set to "" is removed);
// metadata is all Stripe lets one change on a refund.
func (r *Refunds) Update(ctx context.Context, idempotencyKey, id string, metadata map[string]string) (*stripe.Refund, error) {
	if err := checkID("refund", id); err != nil {
		return nil, err
	}
	params := &stripe.RefundParams{Metadata: metadata}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Refund, error) { return r.api.Update(id, params) })
}

// Cancel cancels a refund that is still requires_action.
func (r *Refunds) Cancel(ctx context.Context, idempotencyKey, id string) (*stripe.Refund, error) {
	if err := checkID("refund", id); err != nil {
		return nil, err
	}
	params := &stripe.RefundCancelParams{}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Refund, error) { return r.api.Cancel(id, params) })
}

// List fetches one page of refunds as store rows.
func (r *Refunds) List(ctx context.Context, lp ListParams) (Page[store.Refund], error) {
	q, err := lp.values()
	if err != nil {
		return Page[store.Refund]{}, err
	}
	return listPage(ctx, r.c, "/v1/refunds", q, func(raw json.RawMessage, _ int, version int64) (store.Refund, error) {
		return RefundRecord(raw, r.c.livemode, version)
	})
}

// CreateRecord refunds a charge like Create and returns Stripe's answer as
// a mirror row, at the version of the second the request was sent (the
// refund is at least that new), with Stripe's request id for the audit log.
func (r *Refunds) CreateRecord(ctx context.Context, idempotencyKey string, p RefundCreate) (store.Refund, string, error) {
	version := time.Now().Unix()
	ref, err := r.Create(ctx, idempotencyKey, p)
	if err != nil {
		return store.Refund{}, "", err
	}
	var raw json.RawMessage
	var requestID string
	if ref.LastResponse != nil {
		raw, requestID = ref.LastResponse.RawJSON, ref.LastResponse.RequestID
	}
	row, err := RefundRecord(raw, r.c.livemode, version)
	if err != nil {
		return store.Refund{}, requestID, fmt.Errorf("stripeapi: refund %s: %w", ref.ID, err)
	}
	return row, requestID, nil
}
