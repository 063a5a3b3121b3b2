package store

import (
	"math"
	"testing"
)

// TestSplitAmounts: the parts an amount range is read from are disjoint
// and cover exactly the range, around bucket edges, negative amounts and
// both ends of int64.
func TestSplitAmounts(t *testing.T) {
	p := func(v int64) *int64 { return &v }
	// in reports which part holds a: "b" a whole bucket, "r" the rows, ""
	// none; and fails when two do.
	in := func(sp amountSplit, a int64) string {
		var got []string
		if sp.buckets {
			b := amountBucket(a)
			if (sp.first == nil || b >= *sp.first) && (sp.last == nil || b <= *sp.last) {
				got = append(got, "b")
			}
		}
		for _, r := range sp.rows {
			if a >= r[0] && a <= r[1] {
				got = append(got, "r")
			}
		}
		if len(got) > 1 {
			t.Fatalf("%d is read %d times", a, len(got))
		}
		if len(got) == 0 {
			return ""
		}
		return got[0]
	}
	const lo, hi = math.MinInt64, math.MaxInt64
	points := []int64{lo, lo + 1, lo + 7, lo + 8, lo + 9, lo + 100, lo + 108, lo + 109, -10001, -10000, -9999, -201, -200,
		-199, -101, -100, -99, -1, 0, 1, 98, 99, 100, 101, 199, 200, 9999, 10000, 10001, 50000, 50099, 50100,
		hi - 108, hi - 107, hi - 100, hi - 8, hi - 7, hi - 6, hi - 1, hi}
	bounds := append([]*int64{nil}, make([]*int64, len(points))...)
	for i, v := range points {
		bounds[i+1] = p(v)
	}
	for _, min := range bounds {
		for _, max := range bounds {
			sp := splitAmounts(min, max)
			var rows int64
			for _, r := range sp.rows {
				if r[0] > r[1] {
					t.Fatalf("[%v, %v]: empty rows part %v", min, max, r)
				}
				// Each rows part lies within one bucket, or two
				// neighbouring ones when no whole bucket is inside.
				if span := amountBucket(r[1]) - amountBucket(r[0]); span > 1 || (span == 1 && sp.buckets) {
					t.Fatalf("[%v, %v]: rows part %v spans buckets", min, max, r)
				}
				rows++
			}
			for _, a := range points {
				want := (min == nil || a >= *min) && (max == nil || a <= *max)
				if got := in(sp, a) != ""; got != want {
					t.Fatalf("[%v, %v]: %d read %v, want %v (split %+v)", min, max, a, got, want, sp)
				}
			}
			// Whole buckets come from the rollup: an aligned range reads
			// no rows at all.
			aligned := (min == nil || *min == bucketFirst(amountBucket(*min))) && (max == nil || *max == bucketLast(amountBucket(*max)))
			if aligned && rows != 0 && (min == nil || max == nil || *min <= *max) {
				t.Fatalf("[%v, %v]: aligned range reads rows %v", min, max, sp.rows)
			}
		}
	}
	// The buckets at the ends of int64 (partial: floor(MinInt64 / 100)
	// starts below MinInt64, floor(MaxInt64 / 100) ends above MaxInt64).
	if b := amountBucket(lo); b != -92233720368547759 || bucketFirst(b) != lo || bucketLast(b) != -9223372036854775801 {
		t.Errorf("lowest bucket %d [%d, %d]", b, bucketFirst(b), bucketLast(b))
	}
	if b := amountBucket(hi); b != 92233720368547758 || bucketFirst(b) != 9223372036854775800 || bucketLast(b) != hi {
		t.Errorf("highest bucket %d [%d, %d]", b, bucketFirst(b), bucketLast(b))
	}
	for a, b := range map[int64]int64{-1: -1, -100: -1, -101: -2, 0: 0, 99: 0, 100: 1, -9999: -100, -10000: -100, -10001: -101} {
		if got := amountBucket(a); got != b {
			t.Errorf("bucket of %d: %d, want %d", a, got, b)
		}
	}
}
