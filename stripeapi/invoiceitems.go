package stripeapi

import (
	"context"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/invoiceitem"
)

// InvoiceItems is the /v1/invoiceitems endpoint: the way lines get onto a
// one-off invoice.
type InvoiceItems struct {
	c   *Client
	api invoiceitem.Client
}

// InvoiceItemCreate describes one item. With Invoice set it goes onto that
// draft; without, it waits as a pending item of Customer.
type InvoiceItemCreate struct {
	Customer    string
	Invoice     string
	Currency    string
	Description string
	// Quantity defaults to 1 when 0.
	Quantity int64
	// UnitAmount is in the currency's minor units (cents; yen for JPY).
	UnitAmount int64
	Metadata   map[string]string
}

// Create creates an invoice item.
func (r *InvoiceItems) Create(ctx context.Context, idempotencyKey string, p InvoiceItemCreate) (*stripe.InvoiceItem, error) {
	params := &stripe.InvoiceItemParams{
		Customer:    optString(p.Customer),
		Invoice:     optString(p.Invoice),
		Currency:    optString(p.Currency),
		Description: optString(p.Description),
		UnitAmount:  stripe.Int64(p.UnitAmount),
		Metadata:    p.Metadata,
	}
	if p.Quantity != 0 {
		params.Quantity = stripe.Int64(p.Quantity)
	}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.InvoiceItem, error) { return r.api.New(params) })
}

// Delete removes an item from a draft invoice (or a pending item).
func (r *InvoiceItems) Delete(ctx context.Context, idempotencyKey, id string) (*stripe.InvoiceItem, error) {
	if err := checkID("invoice item", id); err != nil {
		return nil, err
	}
	params := &stripe.InvoiceItemParams{}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.InvoiceItem, error) { return r.api.Del(id, params) })
}
