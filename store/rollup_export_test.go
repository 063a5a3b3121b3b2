package store

import (
	"context"
	"time"
)

// Hooks for rollup_test.go (package store_test): each list's totals read
// both ways, and the overview from the rows only.

var testListSpecs = map[string]*listSpec{
	"customers": customerList, "invoices": invoiceList, "charges": chargeList, "refunds": refundList,
}

// TotalsBothWays returns list's totals for f from its rollup (used says
// whether the rollup could answer) and from the rows.
func (s *Store) TotalsBothWays(ctx context.Context, list string, f ListFilter) (rollup []CurrencyTotal, used bool, raw []CurrencyTotal, err error) {
	sp := testListSpecs[list]
	c, err := sp.filter(f)
	if err != nil {
		return nil, false, nil, err
	}
	if rollup, used, err = s.rollupTotals(ctx, sp, f); err != nil {
		return nil, false, nil, err
	}
	raw, err = s.rawTotals(ctx, sp, c)
	return rollup, used, raw, err
}

// SummaryFromRows is Summary aggregating the rows, never the rollups.
func (s *Store) SummaryFromRows(ctx context.Context, days []time.Time, now time.Time) (Summary, error) {
	return s.summary(ctx, days, now, false)
}

// OverviewUsesRollups reports whether Summary reads days' charges and
// refunds from the rollups.
func (s *Store) OverviewUsesRollups(ctx context.Context, days []time.Time) (charges, refunds bool, err error) {
	bounds := make([]string, len(days))
	for i, d := range days {
		bounds[i] = d.UTC().Format(time.RFC3339Nano)
	}
	if _, charges, err = s.rollupOverviewCharges(ctx, bounds); err != nil {
		return false, false, err
	}
	_, refunds, err = s.rollupOverviewRefunds(ctx, []string{bounds[0], bounds[len(bounds)-1]})
	return charges, refunds, err
}
