package stripeapi

import (
	"context"
	"encoding/json"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/charge"

	"paydesk/store"
)

// Charges is the /v1/charges endpoint. paydesk only reads charges: they are
// created by checkout and invoices, and refunded through Refunds.
type Charges struct {
	c   *Client
	api charge.Client
}

// Get fetches a charge.
func (r *Charges) Get(ctx context.Context, id string) (*stripe.Charge, error) {
	if err := checkID("charge", id); err != nil {
		return nil, err
	}
	params := &stripe.ChargeParams{}
	return read(ctx, r.c, &params.Params, func() (*stripe.Charge, error) { return r.api.Get(id, params) })
}

// List fetches one page of charges as store rows. Since API 2022-11-15 a
// charge no longer embeds its refunds: list them with Refunds.List.
func (r *Charges) List(ctx context.Context, lp ListParams) (Page[store.Charge], error) {
	q, err := lp.values()
	if err != nil {
		return Page[store.Charge]{}, err
	}
	return listPage(ctx, r.c, "/v1/charges", q, func(raw json.RawMessage, _ int, version int64) (store.Charge, error) {
		return ChargeRecord(raw, r.c.livemode, version)
	})
}
