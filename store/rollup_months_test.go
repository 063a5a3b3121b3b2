package store_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// TestRollupMonthsEqualRows: the charges list's totals, which read the
// whole months inside a created range from rollup_charges_monthly and the
// days at its ends from rollup_charges, equal the rows' aggregation for
// ranges that start and end on month starts, inside months, across them,
// open on either side or both, and empty; after inserts, upserts that
// move charges to other months, statuses and currencies, a compaction and
// moves to zones whose months start at other instants. The monthly level
// always holds exactly its days' sums.
func TestRollupMonthsEqualRows(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("ROLLUP_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("ROLLUP_SEED=%d", seed)
	r := rand.New(rand.NewPCG(seed, 9))
	st := storetest.New(t)
	ctx := t.Context()

	// Charges from mid-January to late May 2025 (the United States' DST
	// change in March), often exactly on a month's first instant or just
	// before it, in the zone of the moment.
	loc := time.UTC
	created := func() time.Time {
		month := time.Month(1 + r.IntN(5))
		switch r.IntN(4) {
		case 0:
			return time.Date(2025, month, 1, 0, 0, 0, 0, loc)
		case 1:
			return time.Date(2025, month, 1, 0, 0, 0, 0, loc).Add(-time.Microsecond)
		default:
			return time.Date(2025, month, 1+r.IntN(28), r.IntN(24), r.IntN(60), 0, 0, loc)
		}
	}
	version := int64(1)
	charge := func(id string) store.Charge {
		amount := int64(r.IntN(1<<20)) + 1
		c := store.Charge{ID: id, Amount: amount, Currency: rollupCurrencies[r.IntN(len(rollupCurrencies))],
			Status: []string{"succeeded", "succeeded", "failed", "pending"}[r.IntN(4)], Created: created(),
			Data: rawJSON(id), Version: version}
		switch r.IntN(4) {
		case 0:
			c.Refunded, c.AmountRefunded = true, amount
		case 1:
			c.AmountRefunded = amount / 2
		}
		c.Disputed = r.IntN(6) == 0
		return c
	}
	var ids []string
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("ch_m%03d", i))
	}
	insert := make([]store.Charge, len(ids))
	for i, id := range ids {
		insert[i] = charge(id)
	}
	if _, err := st.UpsertCharges(ctx, insert); err != nil {
		t.Fatal(err)
	}

	check := func(what string) {
		t.Helper()
		// Bounds: month starts, days inside months, the ends of the data
		// and beyond it, in the zone of the moment.
		day := func(m time.Month, d int) time.Time { return time.Date(2025, m, d, 0, 0, 0, 0, loc) }
		bounds := []time.Time{{}, day(1, 1), day(1, 20), day(2, 1), day(2, 14), day(3, 1), day(3, 9), day(3, 10),
			day(4, 1), day(4, 30), day(5, 1), day(5, 31), day(6, 1), day(7, 1)}
		var filters []store.ListFilter
		for _, from := range bounds {
			for _, to := range bounds {
				filters = append(filters, store.ListFilter{CreatedFrom: from, CreatedTo: to})
			}
		}
		for _, status := range append([]string{""}, store.ChargeStatuses...) {
			for range 3 {
				f := store.ListFilter{Status: status, CreatedFrom: bounds[r.IntN(len(bounds))], CreatedTo: bounds[r.IntN(len(bounds))]}
				if r.IntN(2) == 0 {
					f.Currency = rollupCurrencies[r.IntN(len(rollupCurrencies))]
				}
				filters = append(filters, f, store.ListFilter{Status: status})
			}
		}
		for _, f := range filters {
			rollup, used, raw, err := st.TotalsBothWays(ctx, "charges", f)
			if err != nil {
				t.Fatalf("%s: %+v: %v", what, f, err)
			}
			if !used {
				t.Fatalf("%s: status %q created [%v, %v): rollup not used", what, f.Status, f.CreatedFrom, f.CreatedTo)
			}
			if !reflect.DeepEqual(rollup, raw) {
				t.Fatalf("%s: status %q currency %q created [%v, %v):\nrollup %+v\nrows   %+v",
					what, f.Status, f.Currency, f.CreatedFrom, f.CreatedTo, rollup, raw)
			}
		}
		// Each month's key sums to its days' sums, whatever the delta rows.
		checkMonthlyLevels(t, st, what)
	}
	check("the inserts")

	// Upserts in several statements: newer versions move charges to other
	// months, statuses, flags and currencies; stale ones change nothing.
	for round := range 3 {
		version++
		var batch []store.Charge
		for _, i := range r.Perm(len(ids))[:60] {
			c := charge(ids[i])
			if r.IntN(5) == 0 {
				c.Version = 0
			}
			batch = append(batch, c)
		}
		if _, err := st.ApplyCharges(ctx, batch); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("upsert round %d", round))
	}
	st.DB().MustExecContext(ctx, `DELETE FROM charges WHERE id = ANY($1)`, ids[:10])
	check("a delete")
	if _, err := st.CompactRollups(ctx); err != nil {
		t.Fatal(err)
	}
	check("the compaction")
	var monthRows, monthKeys int
	if err := st.DB().GetContext(ctx, &monthRows, `SELECT count(*) FROM rollup_charges_monthly`); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().GetContext(ctx, &monthKeys, `SELECT count(*) FROM (SELECT DISTINCT month, currency, status,
		refunded, partially_refunded, disputed FROM rollup_charges_monthly) k`); err != nil {
		t.Fatal(err)
	}
	if monthRows != monthKeys {
		t.Errorf("after compaction: %d monthly rows for %d keys", monthRows, monthKeys)
	}

	for _, zone := range []string{"America/New_York", "Asia/Kathmandu"} {
		if rebuilt, err := st.EnsureRollupZone(ctx, zone); err != nil || !rebuilt {
			t.Fatalf("EnsureRollupZone(%s): rebuilt %v, %v", zone, rebuilt, err)
		}
		var err error
		if loc, err = time.LoadLocation(zone); err != nil {
			t.Fatal(err)
		}
		check("the move to " + zone)
		version++
		var batch []store.Charge
		for _, i := range r.Perm(len(ids) - 10)[:40] {
			batch = append(batch, charge(ids[10+i]))
		}
		if _, err := st.ApplyCharges(ctx, batch); err != nil {
			t.Fatal(err)
		}
		check("upserts in " + zone)
	}

	st.DB().MustExecContext(ctx, `TRUNCATE charges`)
	check("TRUNCATE")
	if got, _, _, _ := st.TotalsBothWays(ctx, "charges", store.ListFilter{}); len(got) != 0 {
		t.Errorf("charges after TRUNCATE: %+v", got)
	}
}

// monthlyLevels are the rollups with a monthly level: the daily table, the
// monthly one and their key columns besides day and month.
var monthlyLevels = []struct{ daily, monthly, keys string }{
	{"rollup_charges", "rollup_charges_monthly", "currency, status, refunded, partially_refunded, disputed"},
	{"rollup_invoices", "rollup_invoices_monthly", "currency, status, deleted"},
}

// checkMonthlyLevels fails unless each month's key in every monthly level
// sums to the sums of its days in the daily rollup, whatever delta rows
// either holds. (EXCEPT compares NULL keys as equal.)
func checkMonthlyLevels(t *testing.T, st *store.Store, what string) {
	t.Helper()
	for _, l := range monthlyLevels {
		daily := `SELECT date_trunc('month', day::timestamp)::date, ` + l.keys + `, sum(n), sum(amount)
     FROM ` + l.daily + ` GROUP BY 1, ` + l.keys + ` HAVING sum(n) <> 0 OR sum(amount) <> 0`
		monthly := `SELECT month, ` + l.keys + `, sum(n), sum(amount)
     FROM ` + l.monthly + ` GROUP BY month, ` + l.keys + ` HAVING sum(n) <> 0 OR sum(amount) <> 0`
		var differ int
		if err := st.DB().GetContext(t.Context(), &differ, `SELECT count(*) FROM (
    (`+daily+` EXCEPT `+monthly+`) UNION ALL (`+monthly+` EXCEPT `+daily+`)) d`); err != nil {
			t.Fatal(err)
		}
		if differ != 0 {
			t.Fatalf("%s: %d keys of %s differ from their days' sums", what, differ, l.monthly)
		}
	}
}
