package backfill

import (
	"context"
	"fmt"

	"paydesk/store"
	"paydesk/stripeapi"
)

// page is one fetched page of a window, ready to store.
type page struct {
	count   int
	lines   int
	hasMore bool
	lastID  string
	// oldest is the created time (Unix seconds) of the page's last object.
	oldest int64
	save   func(ctx context.Context, tx *store.Store) error
	// rows is the page's []store.Customer, []store.Invoice (every line
	// fetched), []store.Charge or []store.Refund.
	rows any
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
		return fetchPage(ctx, p, e.api.Customers.List, (*store.Store).UpsertCustomers,
			func(r store.Customer) int64 { return r.Created.Unix() })
	case "invoices":
		lines := 0
		pg, err := fetchPage(ctx, p, func(ctx context.Context, p stripeapi.ListParams) (stripeapi.Page[store.Invoice], error) {
			res, err := e.api.Invoices.List(ctx, p)
			if err != nil {
				return res, err
			}
			// Stripe embeds only the first lines of an invoice; the rest
			// are read from its lines list before the page is stored, so a
			// stored invoice always has every line.
			for i := range res.Data {
				if err := e.api.Invoices.CompleteLines(ctx, &res.Data[i]); err != nil {
					return res, fmt.Errorf("lines of %s: %w", res.Data[i].ID, err)
				}
				lines += len(res.Data[i].Lines)
			}
			return res, nil
		}, (*store.Store).UpsertInvoices, func(r store.Invoice) int64 { return r.Created.Unix() })
		pg.lines = lines
		return pg, err
	case "charges":
		return fetchPage(ctx, p, e.api.Charges.List, (*store.Store).UpsertCharges,
			func(r store.Charge) int64 { return r.Created.Unix() })
	case "refunds":
		return fetchPage(ctx, p, e.api.Refunds.List, (*store.Store).UpsertRefunds,
			func(r store.Refund) int64 { return r.Created.Unix() })
	}
	return page{}, fmt.Errorf("unknown object type %q", w.Object)
}

// fetchPage lists one page and prepares it to be stored with upsert.
func fetchPage[T any](ctx context.Context, p stripeapi.ListParams,
	list func(context.Context, stripeapi.ListParams) (stripeapi.Page[T], error),
	upsert func(*store.Store, context.Context, []T) (int, error),
	created func(T) int64,
) (page, error) {
	res, err := list(ctx, p)
	if err != nil {
		return page{}, err
	}
	pg := page{count: len(res.Data), hasMore: res.HasMore, lastID: res.LastID, rows: res.Data}
	if n := len(res.Data); n > 0 {
		pg.oldest = created(res.Data[n-1])
	}
	pg.save = func(ctx context.Context, tx *store.Store) error {
		_, err := upsert(tx, ctx, res.Data)
		return err
	}
	return pg, nil
}
