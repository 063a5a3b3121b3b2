package store

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// The amount rollups (migrations/00015_rollup_amounts.sql) hold, for
// charges and invoices, the row count and amount sum of each amount bucket
// and each combination of the columns the status tabs use, as append-only
// delta rows like the daily rollups (rollup.go). A bucket is the floor of
// the amount in minor units divided by amountBucketWidth: bucket b holds
// the amounts b*100 .. b*100+99, negative ones included.
//
// The totals of a list filtered by a currency, an amount range and a
// status tab the rollup has columns for -- and nothing else -- are the
// rollup's sums over the buckets entirely inside the range plus the rows
// of the partial buckets at its ends, read from the mirror by a range of
// its (currency, amount, id) index: at most one bucket's rows at each end.
// Both come from one statement, so from one snapshot. Any other filter
// aggregates the rows as before.

// amountBucketWidth is the width of an amount bucket in minor units; the
// migration's rollup_amount_bucket divides by the same.
const amountBucketWidth = 100

// amountRollup is the amount rollup of one list.
type amountRollup struct {
	table string
	// sum is the rollup's column holding the amounts' sum.
	sum string
	// statuses maps each status tab the rollup answers to its condition
	// on the rollup's columns (the daily rollup's, which has the same
	// ones).
	statuses map[string]string
}

var amountRollups = map[*listSpec]*amountRollup{
	chargeList:  {table: "rollup_charges_amount", sum: "amount", statuses: listRollups[chargeList].statuses},
	invoiceList: {table: "rollup_invoices_amount", sum: "total", statuses: listRollups[invoiceList].statuses},
}

// amountBucket is the bucket of amount: floor(amount / amountBucketWidth).
func amountBucket(amount int64) int64 {
	b := amount / amountBucketWidth
	if amount%amountBucketWidth < 0 {
		b--
	}
	return b
}

// bucketFirst and bucketLast are the smallest and largest amounts of
// bucket b, clipped to int64 (the buckets at both ends of it are partial).
func bucketFirst(b int64) int64 {
	if b <= amountBucket(math.MinInt64) {
		return math.MinInt64
	}
	return b * amountBucketWidth
}

func bucketLast(b int64) int64 {
	if b >= amountBucket(math.MaxInt64) {
		return math.MaxInt64
	}
	return b*amountBucketWidth + amountBucketWidth - 1
}

// amountSplit is how an inclusive amount range is read: the buckets from
// first to last (nil: unbounded on that side) from the rollup, when
// buckets is set, and the amounts in each of rows (inclusive ranges) from
// the mirror rows. The parts are disjoint and together cover the range.
type amountSplit struct {
	buckets     bool
	first, last *int64
	rows        [][2]int64
}

// splitAmounts splits the range [min, max] (nil: open on that side).
func splitAmounts(min, max *int64) amountSplit {
	var sp amountSplit
	if min != nil && max != nil && *min > *max {
		// Empty: nothing to read, not even the rows (and no bucket range
		// can be empty in the same way).
		return sp
	}
	if min != nil {
		b := amountBucket(*min)
		if *min != bucketFirst(b) {
			sp.rows = append(sp.rows, [2]int64{*min, bucketLast(b)})
			b++
		}
		sp.first = &b
	}
	if max != nil {
		b := amountBucket(*max)
		if *max != bucketLast(b) {
			sp.rows = append(sp.rows, [2]int64{bucketFirst(b), *max})
			b--
		}
		sp.last = &b
	}
	if sp.first != nil && sp.last != nil && *sp.first > *sp.last {
		// No whole bucket inside: the range lies in one bucket or two
		// neighbours, all read from the rows (the partial ends may
		// overlap, so they are replaced by the range itself).
		return amountSplit{rows: [][2]int64{{*min, *max}}}
	}
	sp.buckets = true
	return sp
}

// amountRollupTotals answers sp's totals for f from its amount rollup. ok
// is false when f is not exactly a currency, an amount range and a status
// tab the rollup has columns for; the caller then aggregates the rows.
func (s *Store) amountRollupTotals(ctx context.Context, sp *listSpec, f ListFilter) (out []CurrencyTotal, ok bool, err error) {
	ar := amountRollups[sp]
	if ar == nil || (f.AmountMin == nil && f.AmountMax == nil) ||
		// The edge rows are read by (currency, amount): the filter
		// requires a currency with an amount range anyway.
		f.Currency == "" ||
		strings.TrimSpace(f.Query) != "" || f.Customer != "" ||
		!f.CreatedFrom.IsZero() || !f.CreatedTo.IsZero() || !f.DueFrom.IsZero() || !f.DueTo.IsZero() {
		return nil, false, nil
	}
	status, found := ar.statuses[f.Status]
	rowStatus, rowFound := sp.statuses[f.Status]
	if !found || !rowFound {
		return nil, false, nil
	}
	q, args := amountTotalsSQL(sp, ar, status, rowStatus, f.Currency, splitAmounts(f.AmountMin, f.AmountMax))
	if q == "" {
		return nil, true, nil
	}
	if err := sqlxSelect(ctx, s, &out, q, args...); err != nil {
		return nil, false, fmt.Errorf("store: totals of %s from the amount rollup: %w", sp.name, err)
	}
	return out, true, nil
}

// amountTotalsSQL is the statement reading the totals of cur's rows in
// split with the rollup condition status and the rows' condition
// rowStatus ("" for none), most rows first like rawTotals; "" when split
// reads nothing.
func amountTotalsSQL(sp *listSpec, ar *amountRollup, status, rowStatus, cur string, split amountSplit) (string, []any) {
	c := &conds{}
	curCond := c.bind("currency = ?", cur)
	var parts []string
	if split.buckets {
		where := []string{curCond, status}
		if split.first != nil {
			where = append(where, c.bind("bucket >= ?", *split.first))
		}
		if split.last != nil {
			where = append(where, c.bind("bucket <= ?", *split.last))
		}
		parts = append(parts, "SELECT n, "+ar.sum+" AS amount FROM "+ar.table+" WHERE "+strings.Join(where, " AND "))
	}
	for _, r := range split.rows {
		where := []string{curCond}
		if rowStatus != "" {
			where = append(where, rowStatus)
		}
		where = append(where, c.bind(sp.amount+" >= ?", r[0]), c.bind(sp.amount+" <= ?", r[1]))
		parts = append(parts, "SELECT 1 AS n, "+sp.amount+" AS amount FROM "+sp.table+" WHERE "+strings.Join(where, " AND "))
	}
	if len(parts) == 0 {
		return "", nil
	}
	// One currency: one row at most, none when nothing matches (as the
	// rows' GROUP BY gives). The currency is the parameter itself: every
	// part reads only its rows.
	cp := c.bind("?::text", cur)
	return "SELECT " + cp + " AS currency, sum(n)::bigint AS count, sum(amount)::bigint AS amount FROM (" +
		strings.Join(parts, " UNION ALL ") + ") u HAVING sum(n) <> 0", c.args
}
