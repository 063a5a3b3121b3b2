package store

import (
	"context"
	"time"
)

// Hooks for the open-invoice rollup tests in rollup_test.go (package
// store_test).

// TotalsBothWaysAtOnce is TotalsBothWays with both reads in one
// transaction, so that they share now() (past_due depends on it).
func (s *Store) TotalsBothWaysAtOnce(ctx context.Context, list string, f ListFilter) (rollup []CurrencyTotal, used bool, raw []CurrencyTotal, err error) {
	err = s.InTx(ctx, func(tx *Store) error {
		rollup, used, raw, err = tx.TotalsBothWays(ctx, list, f)
		return err
	})
	return rollup, used, raw, err
}

// OverviewOpenInvoicesUseRollup reports whether Summary at now reads the
// open and past-due invoices from their rollup.
func (s *Store) OverviewOpenInvoicesUseRollup(ctx context.Context, now time.Time) (bool, error) {
	_, ok, err := s.openInvoiceFigures(ctx, "", &now)
	return ok, err
}
