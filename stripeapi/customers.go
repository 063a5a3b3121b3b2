package stripeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/customer"

	"paydesk/store"
)

// Customers is the /v1/customers endpoint.
type Customers struct {
	c   *Client
	api customer.Client
}

// CustomerParams are the customer fields paydesk sets. A nil field is left
// as it is; a pointer to "" clears it on Update.
type CustomerParams struct {
	Name        *string
	Email       *string
	Phone       *string
	Description *string
	// Metadata is merged into the customer's; a key set to "" is removed.
	Metadata map[string]string
}

func (p CustomerParams) stripe() *stripe.CustomerParams {
	return &stripe.CustomerParams{
		Name:        p.Name,
		Email:       p.Email,
		Phone:       p.Phone,
		Description: p.Description,
		Metadata:    p.Metadata,
	}
}

// Get fetches a customer; a deleted one comes back with Deleted set.
func (r *Customers) Get(ctx context.Context, id string) (*stripe.Customer, error) {
	if err := checkID("customer", id); err != nil {
		return nil, err
	}
	params := &stripe.CustomerParams{}
	return read(ctx, r.c, &params.Params, func() (*stripe.Customer, error) { return r.api.Get(id, params) })
}

// Create creates a customer.
func (r *Customers) Create(ctx context.Context, idempotencyKey string, p CustomerParams) (*stripe.Customer, error) {
	params := p.stripe()
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Customer, error) { return r.api.New(params) })
}

// Update changes the fields set in p.
func (r *Customers) Update(ctx context.Context, idempotencyKey, id string, p CustomerParams) (*stripe.Customer, error) {
	if err := checkID("customer", id); err != nil {
		return nil, err
	}
	params := p.stripe()
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Customer, error) { return r.api.Update(id, params) })
}

// Delete deletes a customer. Stripe answers with the deleted stub.
func (r *Customers) Delete(ctx context.Context, idempotencyKey, id string) (*stripe.Customer, error) {
	if err := checkID("customer", id); err != nil {
		return nil, err
	}
	params := &stripe.CustomerParams{}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Customer, error) { return r.api.Del(id, params) })
}

// List fetches one page of customers as store rows.
func (r *Customers) List(ctx context.Context, lp ListParams) (Page[store.Customer], error) {
	q, err := lp.values()
	if err != nil {
		return Page[store.Customer]{}, err
	}
	return listPage(ctx, r.c, "/v1/customers", q, func(raw json.RawMessage, _ int, version int64) (store.Customer, error) {
		return CustomerRecord(raw, r.c.livemode, version)
	})
}

// CreateRecord creates a customer like Create and returns Stripe's answer
// as a mirror row, at the version of the second the request was sent (the
// customer is at least that new), with Stripe's request id.
func (r *Customers) CreateRecord(ctx context.Context, idempotencyKey string, p CustomerParams) (store.Customer, string, error) {
	version := time.Now().Unix()
	c, err := r.Create(ctx, idempotencyKey, p)
	if err != nil {
		return store.Customer{}, "", err
	}
	return r.record(c, version)
}

// UpdateRecord changes a customer like Update and returns Stripe's answer
// as a mirror row, like CreateRecord.
func (r *Customers) UpdateRecord(ctx context.Context, idempotencyKey, id string, p CustomerParams) (store.Customer, string, error) {
	version := time.Now().Unix()
	c, err := r.Update(ctx, idempotencyKey, id, p)
	if err != nil {
		return store.Customer{}, "", err
	}
	return r.record(c, version)
}

func (r *Customers) record(c *stripe.Customer, version int64) (store.Customer, string, error) {
	var raw json.RawMessage
	var requestID string
	if c.LastResponse != nil {
		raw, requestID = c.LastResponse.RawJSON, c.LastResponse.RequestID
	}
	row, err := CustomerRecord(raw, r.c.livemode, version)
	if err != nil {
		return store.Customer{}, requestID, fmt.Errorf("stripeapi: customer %s: %w", c.ID, err)
	}
	return row, requestID, nil
}
