package backfill

import (
	"context"
	"fmt"

	"paydesk/store"
	"paydesk/stripeapi"
)

// page is one stored-to-be page of a window.
type page struct {
	count   int
	lines   int
	hasMore bool
	lastID  string
	// oldest is the created time (Unix seconds) of the page's last object.
	oldest int64
	save   func(ctx context.Context, tx *store.Store) error
}

// pageSize is Stripe's largest list page.
const pageSize = 100

func (e *engine) fetch(ctx context.Context, w *store.SyncWindow) (page, error) {
	p := stripeapi.ListParams{Limit: pageSize, CreatedGTE: w.Lo, CreatedLT: w.Hi}
	if w.Cursor != nil {
		p.StartingAfter = *w.Cursor
	}
	switch w.Object {
	case "customers":
		res, err := e.api.Customers.List(ctx, p)
		if err != nil {
			return page{}, err
		}
		return pageOf(res, func(r store.Customer) int64 { return r.Created.Unix() }, func(ctx context.Context, tx *store.Store) error {
			_, err := tx.UpsertCustomers(ctx, res.Data)
			return err
		}), nil
	case "invoices":
		res, err := e.api.Invoices.List(ctx, p)
		if err != nil {
			return page{}, err
		}
		// Stripe embeds only the first lines of an invoice; the rest are
		// read from the invoice's lines list before the page is stored, so
		// a stored invoice always has every line.
		lines := 0
		for i := range res.Data {
			if err := e.api.Invoices.CompleteLines(ctx, &res.Data[i]); err != nil {
				return page{}, fmt.Errorf("lines of %s: %w", res.Data[i].ID, err)
			}
			lines += len(res.Data[i].Lines)
		}
		pg := pageOf(res, func(r store.Invoice) int64 { return r.Created.Unix() }, func(ctx context.Context, tx *store.Store) error {
			_, err := tx.UpsertInvoices(ctx, res.Data)
			return err
		})
		pg.lines = lines
		return pg, nil
	case "charges":
		res, err := e.api.Charges.List(ctx, p)
		if err != nil {
			return page{}, err
		}
		return pageOf(res, func(r store.Charge) int64 { return r.Created.Unix() }, func(ctx context.Context, tx *store.Store) error {
			_, err := tx.UpsertCharges(ctx, res.Data)
			return err
		}), nil
	case "refunds":
		res, err := e.api.Refunds.List(ctx, p)
		if err != nil {
			return page{}, err
		}
		return pageOf(res, func(r store.Refund) int64 { return r.Created.Unix() }, func(ctx context.Context, tx *store.Store) error {
			_, err := tx.UpsertRefunds(ctx, res.Data)
			return err
		}), nil
	}
	return page{}, fmt.Errorf("unknown object type %q", w.Object)
}

func pageOf[T any](res stripeapi.Page[T], created func(T) int64, save func(context.Context, *store.Store) error) page {
	p := page{count: len(res.Data), hasMore: res.HasMore, lastID: res.LastID, save: save}
	if n := len(res.Data); n > 0 {
		p.oldest = created(res.Data[n-1])
	}
	return p
}
