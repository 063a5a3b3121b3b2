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

// CreateDraftRecord makes a draft invoice with its items as one action:
// it creates the invoice under idempotencyKey+"-invoice", each item under
// idempotencyKey+"-item-N" (N counting from 1), then fetches the invoice
// so the row holds Stripe's own lines and totals. Sending the same action
// again with the same key replays every call Stripe already answered and
// makes only the ones that failed, so a retry never makes a second
// invoice or doubles an item. The row is at the version of the second the
// fetch was sent; the request id is the invoice creation's (or the failed
// call's, in the error).
func (r *Invoices) CreateDraftRecord(ctx context.Context, idempotencyKey string, p InvoiceCreate, items []InvoiceItemCreate) (store.Invoice, string, error) {
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return store.Invoice{}, "", err
	}
	if len(items) == 0 {
		return store.Invoice{}, "", errors.New("stripeapi: a draft invoice needs at least one item")
	}
	inv, err := r.Create(ctx, idempotencyKey+"-invoice", p)
	if err != nil {
		return store.Invoice{}, "", err
	}
	requestID := ""
	if inv.LastResponse != nil {
		requestID = inv.LastResponse.RequestID
	}
	for i, item := range items {
		item.Invoice = inv.ID
		if item.Customer == "" {
			item.Customer = p.Customer
		}
		if item.Currency == "" {
			item.Currency = p.Currency
		}
		if _, err := r.c.InvoiceItems.Create(ctx, fmt.Sprintf("%s-item-%d", idempotencyKey, i+1), item); err != nil {
			return store.Invoice{}, "", fmt.Errorf("stripeapi: invoice %s item %d: %w", inv.ID, i+1, err)
		}
	}
	version := time.Now().Unix()
	full, err := r.Get(ctx, inv.ID)
	if err != nil {
		return store.Invoice{}, "", err
	}
	row, err := r.record(ctx, full, version)
	return row, requestID, err
}

// InvoiceAction is a change of an invoice's state that Stripe makes on
// request.
type InvoiceAction string

// The invoice actions, named as in Stripe's API paths.
const (
	InvoiceFinalize          InvoiceAction = "finalize"
	InvoiceSend              InvoiceAction = "send"
	InvoiceVoid              InvoiceAction = "void"
	InvoiceMarkUncollectible InvoiceAction = "mark_uncollectible"
	InvoicePayNow            InvoiceAction = "pay"
	InvoiceDelete            InvoiceAction = "delete"
)

// ActRecord makes one invoice action under idempotencyKey and returns
// Stripe's answer as a mirror row at the version of the second the request
// was sent, with Stripe's request id. pay is used by InvoicePayNow only.
// A deleted draft comes back as a row holding only its ID, Deleted and
// Version: Stripe answers a deletion with a stub.
func (r *Invoices) ActRecord(ctx context.Context, idempotencyKey, id string, action InvoiceAction, pay InvoicePay) (store.Invoice, string, error) {
	version := time.Now().Unix()
	var (
		inv *stripe.Invoice
		err error
	)
	switch action {
	case InvoiceFinalize:
		inv, err = r.Finalize(ctx, idempotencyKey, id)
	case InvoiceSend:
		inv, err = r.Send(ctx, idempotencyKey, id)
	case InvoiceVoid:
		inv, err = r.Void(ctx, idempotencyKey, id)
	case InvoiceMarkUncollectible:
		inv, err = r.MarkUncollectible(ctx, idempotencyKey, id)
	case InvoicePayNow:
		inv, err = r.Pay(ctx, idempotencyKey, id, pay)
	case InvoiceDelete:
		inv, err = r.Delete(ctx, idempotencyKey, id)
	default:
		return store.Invoice{}, "", fmt.Errorf("stripeapi: unknown invoice action %q", action)
	}
	if err != nil {
		return store.Invoice{}, "", err
	}
	requestID := ""
	if inv.LastResponse != nil {
		requestID = inv.LastResponse.RequestID
	}
	if action == InvoiceDelete {
		if !inv.Deleted {
			return store.Invoice{}, requestID, fmt.Errorf("stripeapi: invoice %s: Stripe did not say it was deleted", id)
		}
		return store.Invoice{ID: id, Deleted: true, Livemode: r.c.livemode, Version: version}, requestID, nil
	}
	row, err := r.record(ctx, inv, version)
	return row, requestID, err
}

// record turns an invoice Stripe answered with into a row, fetching the
// lines its embedded list left out.
func (r *Invoices) record(ctx context.Context, inv *stripe.Invoice, version int64) (store.Invoice, error) {
	var raw json.RawMessage
	if inv.LastResponse != nil {
		raw = inv.LastResponse.RawJSON
	}
	row, err := InvoiceRecord(raw, r.c.livemode, version)
	if err != nil {
		return store.Invoice{}, fmt.Errorf("stripeapi: invoice %s: %w", inv.ID, err)
	}
	if err := r.CompleteLines(ctx, &row); err != nil {
		return store.Invoice{}, err
	}
	return row, nil
}
