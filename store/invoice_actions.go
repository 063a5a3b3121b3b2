package store

import (
	"context"
	"fmt"
)

// WriteThroughInvoice stores an invoice (and its lines) Stripe has just
// answered with, so the pages are right before Stripe's webhooks arrive,
// and announces it. The row's version is the second the request was sent:
// an event Stripe applied later, being newer, still wins. Its customer is
// announced too, so an open customer page lists a new invoice. Call it
// inside a transaction with the action's FinishAction and audit row.
func (s *Store) WriteThroughInvoice(ctx context.Context, inv Invoice) error {
	if inv.Deleted {
		return fmt.Errorf("store: write through invoice %s: a deleted invoice goes through WriteThroughInvoiceDeleted", inv.ID)
	}
	if _, err := s.UpsertInvoices(ctx, []Invoice{inv}); err != nil {
		return fmt.Errorf("store: write through invoice %s: %w", inv.ID, err)
	}
	changes := []Change{{Table: "invoices", ID: inv.ID, Livemode: inv.Livemode}}
	if inv.Customer != nil && *inv.Customer != "" {
		changes = append(changes, Change{Table: "customers", ID: *inv.Customer, Livemode: inv.Livemode})
	}
	return s.Notify(ctx, changes)
}

// WriteThroughInvoiceDeleted marks a draft Stripe has just deleted as
// deleted at version (unless a newer state is stored) and announces it.
func (s *Store) WriteThroughInvoiceDeleted(ctx context.Context, id string, livemode bool, version int64) error {
	var customer *string
	if err := sqlxGet(ctx, s, &customer, `SELECT customer FROM invoices WHERE id = $1`, id); err != nil && !isNoRows(err) {
		return fmt.Errorf("store: write through deleted invoice %s: %w", id, err)
	}
	if _, err := s.MarkInvoiceDeleted(ctx, id, version); err != nil {
		return err
	}
	changes := []Change{{Table: "invoices", ID: id, Livemode: livemode}}
	if customer != nil && *customer != "" {
		changes = append(changes, Change{Table: "customers", ID: *customer, Livemode: livemode})
	}
	return s.Notify(ctx, changes)
}
