package store

import "context"

// Hooks for rollup_amounts_test.go (package store_test).

// AmountTotalsBothWays returns list's totals for f from its amount rollup
// (used says whether the rollup could answer) and from the rows, both in
// one transaction.
func (s *Store) AmountTotalsBothWays(ctx context.Context, list string, f ListFilter) (rollup []CurrencyTotal, used bool, raw []CurrencyTotal, err error) {
	sp := testListSpecs[list]
	err = s.InTx(ctx, func(tx *Store) error {
		c, err := sp.filter(f)
		if err != nil {
			return err
		}
		if rollup, used, err = tx.amountRollupTotals(ctx, sp, f); err != nil {
			return err
		}
		raw, err = tx.rawTotals(ctx, sp, c)
		return err
	})
	return rollup, used, raw, err
}

// AmountBucket is the bucket the amount rollups put amount in.
func AmountBucket(amount int64) int64 { return amountBucket(amount) }
