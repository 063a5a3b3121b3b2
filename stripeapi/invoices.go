package stripeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/invoice"

	"paydesk/store"
)

// Invoices is the /v1/invoices endpoint.
type Invoices struct {
	c   *Client
	api invoice.Client
}

// InvoiceCreate describes a new draft invoice. Zero fields are not sent.
type InvoiceCreate struct {
	Customer string
	Currency string
	// CollectionMethod is charge_automatically (Stripe's default) or
	// send_invoice, which needs DaysUntilDue or DueDate.
	CollectionMethod string
	DaysUntilDue     int64
	DueDate          *time.Time
	AutoAdvance      *bool
	Description      string
	Metadata         map[string]string
	// PendingInvoiceItemsBehavior defaults to "exclude": the invoice gets
	// only the items created for it, never a customer's stray pending
	// items. Set "include" to sweep them in.
	PendingInvoiceItemsBehavior string
}

// InvoiceUpdate changes a draft (or, for some fields, open) invoice. Nil
// fields are left as they are.
type InvoiceUpdate struct {
	Description *string
	DueDate     *time.Time
	Metadata    map[string]string
}

// InvoicePay chooses how an open invoice is paid.
type InvoicePay struct {
	// PaidOutOfBand marks it paid outside Stripe (a bank transfer seen by
	// finance) instead of charging the customer's payment method.
	PaidOutOfBand bool
}

// Get fetches an invoice with its first page of lines.
func (r *Invoices) Get(ctx context.Context, id string) (*stripe.Invoice, error) {
	if err := checkID("invoice", id); err != nil {
		return nil, err
	}
	params := &stripe.InvoiceParams{}
	return read(ctx, r.c, &params.Params, func() (*stripe.Invoice, error) { return r.api.Get(id, params) })
}

// Create creates a draft invoice.
func (r *Invoices) Create(ctx context.Context, idempotencyKey string, p InvoiceCreate) (*stripe.Invoice, error) {
	params := &stripe.InvoiceParams{
		Customer:                    optString(p.Customer),
		Currency:                    optString(p.Currency),
		CollectionMethod:            optString(p.CollectionMethod),
		AutoAdvance:                 p.AutoAdvance,
		Description:                 optString(p.Description),
		Metadata:                    p.Metadata,
		PendingInvoiceItemsBehavior: stripe.String("exclude"),
	}
	if p.PendingInvoiceItemsBehavior != "" {
		params.PendingInvoiceItemsBehavior = stripe.String(p.PendingInvoiceItemsBehavior)
	}
	if p.DaysUntilDue != 0 {
		params.DaysUntilDue = stripe.Int64(p.DaysUntilDue)
	}
	if p.DueDate != nil {
		params.DueDate = stripe.Int64(p.DueDate.Unix())
	}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Invoice, error) { return r.api.New(params) })
}

// Update changes the fields set in p.
func (r *Invoices) Update(ctx context.Context, idempotencyKey, id string, p InvoiceUpdate) (*stripe.Invoice, error) {
	if err := checkID("invoice", id); err != nil {
		return nil, err
	}
	params := &stripe.InvoiceParams{Description: p.Description, Metadata: p.Metadata}
	if p.DueDate != nil {
		params.DueDate = stripe.Int64(p.DueDate.Unix())
	}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Invoice, error) { return r.api.Update(id, params) })
}

// Finalize turns a draft into an open invoice with a number.
func (r *Invoices) Finalize(ctx context.Context, idempotencyKey, id string) (*stripe.Invoice, error) {
	if err := checkID("invoice", id); err != nil {
		return nil, err
	}
	params := &stripe.InvoiceFinalizeInvoiceParams{}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Invoice, error) { return r.api.FinalizeInvoice(id, params) })
}

// Send emails an open send_invoice invoice to the customer.
func (r *Invoices) Send(ctx context.Context, idempotencyKey, id string) (*stripe.Invoice, error) {
	if err := checkID("invoice", id); err != nil {
		return nil, err
	}
	params := &stripe.InvoiceSendInvoiceParams{}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Invoice, error) { return r.api.SendInvoice(id, params) })
}

// Void voids an open invoice.
func (r *Invoices) Void(ctx context.Context, idempotencyKey, id string) (*stripe.Invoice, error) {
	if err := checkID("invoice", id); err != nil {
		return nil, err
	}
	params := &stripe.InvoiceVoidInvoiceParams{}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Invoice, error) { return r.api.VoidInvoice(id, params) })
}

// MarkUncollectible writes an open invoice off as bad debt.
func (r *Invoices) MarkUncollectible(ctx context.Context, idempotencyKey, id string) (*stripe.Invoice, error) {
	if err := checkID("invoice", id); err != nil {
		return nil, err
	}
	params := &stripe.InvoiceMarkUncollectibleParams{}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Invoice, error) { return r.api.MarkUncollectible(id, params) })
}

// Pay pays an open invoice now, or records it paid out of band.
func (r *Invoices) Pay(ctx context.Context, idempotencyKey, id string, p InvoicePay) (*stripe.Invoice, error) {
	if err := checkID("invoice", id); err != nil {
		return nil, err
	}
	params := &stripe.InvoicePayParams{}
	if p.PaidOutOfBand {
		params.PaidOutOfBand = stripe.Bool(true)
	}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Invoice, error) { return r.api.Pay(id, params) })
}

// Delete deletes a draft invoice; Stripe refuses for any other status.
func (r *Invoices) Delete(ctx context.Context, idempotencyKey, id string) (*stripe.Invoice, error) {
	if err := checkID("invoice", id); err != nil {
		return nil, err
	}
	params := &stripe.InvoiceParams{}
	return write(ctx, r.c, idempotencyKey, &params.Params, func() (*stripe.Invoice, error) { return r.api.Del(id, params) })
}

// List fetches one page of invoices as store rows, each with the lines
// embedded in it. Invoices whose lines do not fit there need CompleteLines.
func (r *Invoices) List(ctx context.Context, lp ListParams) (Page[store.Invoice], error) {
	q, err := lp.values()
	if err != nil {
		return Page[store.Invoice]{}, err
	}
	return listPage(ctx, r.c, "/v1/invoices", q, func(raw json.RawMessage, _ int, version int64) (store.Invoice, error) {
		return InvoiceRecord(raw, r.c.livemode, version)
	})
}

// Lines fetches one page of an invoice's lines. Positions count from 0
// within the page; CompleteLines numbers them across pages.
func (r *Invoices) Lines(ctx context.Context, invoiceID string, lp ListParams) (Page[store.InvoiceLine], error) {
	if err := checkID("invoice", invoiceID); err != nil {
		return Page[store.InvoiceLine]{}, err
	}
	if lp.CreatedGTE != 0 || lp.CreatedLT != 0 {
		return Page[store.InvoiceLine]{}, errors.New("stripeapi: invoice lines cannot be filtered by created")
	}
	q, err := lp.values()
	if err != nil {
		return Page[store.InvoiceLine]{}, err
	}
	path := stripe.FormatURLPath("/v1/invoices/%s/lines", invoiceID)
	return listPage(ctx, r.c, path, q, func(raw json.RawMessage, i int, _ int64) (store.InvoiceLine, error) {
		return InvoiceLineRecord(invoiceID, i, raw)
	})
}

// CompleteLines fetches the lines of inv that its embedded list left out
// (it had has_more) and appends them in Stripe's order, positions
// continuing, then sets LinesTotalCount and clears LinesHasMore. It does
// nothing for an invoice whose lines are complete, so calling it twice is
// harmless.
func (r *Invoices) CompleteLines(ctx context.Context, inv *store.Invoice) error {
	if !inv.LinesHasMore {
		return nil
	}
	for {
		lp := ListParams{Limit: maxLimit}
		if n := len(inv.Lines); n > 0 {
			lp.StartingAfter = inv.Lines[n-1].ID
		}
		page, err := r.Lines(ctx, inv.ID, lp)
		if err != nil {
			return err
		}
		for _, line := range page.Data {
			line.Position = len(inv.Lines)
			inv.Lines = append(inv.Lines, line)
		}
		if !page.HasMore {
			break
		}
		if len(page.Data) == 0 {
			return fmt.Errorf("stripeapi: invoice %s: empty page of lines claims more", inv.ID)
		}
	}
	inv.LinesTotalCount = int64(len(inv.Lines))
	inv.LinesHasMore = false
	return nil
}

// optString is nil for "", so zero fields are not sent.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
