package store_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"paydesk/store"
	"paydesk/store/storetest"
)

// rollupWorld drives random writes into the mirror and checks after each
// that every figure read from the rollups equals the same figure
// aggregated from the rows.
type rollupWorld struct {
	t   *testing.T
	st  *store.Store
	r   *rand.Rand
	loc *time.Location
	// base is the first of the days the rows are created on.
	base    time.Time
	version int64
	next    int
	ids     map[string][]string // table -> ids stored (some may be deleted)
	seeds   uint64
}

var rollupCurrencies = []string{"usd", "eur", "jpy", "bhd", "kwd"}

func (w *rollupWorld) pick(options ...string) string { return options[w.r.IntN(len(options))] }

func (w *rollupWorld) newID(prefix string) string {
	w.next++
	return prefix + "_" + strconv.Itoa(w.next)
}

// created is a time in the days the checks cover: often exactly a local
// midnight (in the zone of the moment or another), sometimes outside.
func (w *rollupWorld) created() time.Time {
	day := w.r.IntN(8) - 1
	switch w.r.IntN(4) {
	case 0:
		return time.Date(w.base.Year(), w.base.Month(), w.base.Day()+day, 0, 0, 0, 0, w.loc)
	case 1:
		return time.Date(w.base.Year(), w.base.Month(), w.base.Day()+day, 0, 0, 0, 0, time.UTC).Add(-time.Microsecond)
	default:
		return time.Date(w.base.Year(), w.base.Month(), w.base.Day()+day, 0, 0, 0, 0, w.loc).
			Add(time.Duration(w.r.Int64N(int64(24 * time.Hour))))
	}
}

// amount is often above 2^31, sometimes far above.
func (w *rollupWorld) amount() int64 {
	switch w.r.IntN(3) {
	case 0:
		return w.r.Int64N(1000) + 1
	case 1:
		return w.r.Int64N(1<<40) + 1<<31
	default:
		return w.r.Int64N(1 << 20)
	}
}

func rawJSON(id string) json.RawMessage { return json.RawMessage(`{"id":"` + id + `"}`) }

// existing picks up to n stored ids of table.
func (w *rollupWorld) existing(table string, n int) []string {
	all := w.ids[table]
	if len(all) == 0 {
		return nil
	}
	var out []string
	for range n {
		id := all[w.r.IntN(len(all))]
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func (w *rollupWorld) charge(id string) store.Charge {
	w.version++
	amount := w.amount()
	c := store.Charge{ID: id, Amount: amount, Currency: w.pick(rollupCurrencies...),
		Status: w.pick("succeeded", "succeeded", "failed", "pending"), Created: w.created(), Data: rawJSON(id), Version: w.version}
	switch w.r.IntN(4) {
	case 0:
		c.AmountRefunded, c.Refunded = amount, true
	case 1:
		c.AmountRefunded = w.r.Int64N(amount) + 1
		c.Refunded = c.AmountRefunded == amount
	}
	c.Disputed = w.r.IntN(5) == 0
	return c
}

func (w *rollupWorld) refund(id string) store.Refund {
	w.version++
	status := w.pick("succeeded", "succeeded", "pending", "failed", "canceled", "requires_action", "")
	var sp *string
	if status != "" {
		sp = &status
	}
	return store.Refund{ID: id, Amount: w.amount(), Currency: w.pick(rollupCurrencies...), Status: sp,
		Created: w.created(), Data: rawJSON(id), Version: w.version}
}

func (w *rollupWorld) invoice(id string) store.Invoice {
	w.version++
	status := w.pick("draft", "open", "open", "paid", "void", "uncollectible", "")
	var sp *string
	if status != "" {
		sp = &status
	}
	total := w.amount()
	remaining := total
	switch w.r.IntN(3) {
	case 0:
		remaining = w.r.Int64N(total + 1)
	case 1:
		remaining = 0
	}
	return store.Invoice{ID: id, Currency: w.pick(rollupCurrencies...), Status: sp, Total: total, AmountDue: total,
		AmountRemaining: remaining, DueDate: w.due(), Deleted: (status == "draft" || status == "open") && w.r.IntN(4) == 0,
		Created: w.created(), Data: rawJSON(id), Version: w.version}
}

// due is a due date for an invoice: around the real present in the
// world's zone (past_due reads the database's now()): earlier today,
// later today, today's midnight, yesterday, tomorrow, days ago; or in the
// days created covers; or none.
func (w *rollupWorld) due() *time.Time {
	now := time.Now().In(w.loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, w.loc)
	next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, w.loc)
	var d time.Time
	switch w.r.IntN(9) {
	case 0:
		return nil
	case 1, 2:
		d = midnight.Add(time.Duration(w.r.Int64N(int64(now.Sub(midnight)) + 1)))
	case 3, 4:
		d = now.Add(time.Minute + time.Duration(w.r.Int64N(int64(next.Sub(now)))))
	case 5:
		d = midnight
	case 6:
		d = midnight.Add(-time.Duration(w.r.Int64N(int64(72*time.Hour)) + 1))
	case 7:
		d = next.Add(time.Duration(w.r.Int64N(int64(48 * time.Hour))))
	default:
		d = w.created()
	}
	return &d
}

func (w *rollupWorld) customer(id string) store.Customer {
	w.version++
	c := store.Customer{ID: id, Balance: w.amount() - 1<<19, Created: w.created(), Data: rawJSON(id), Version: w.version,
		Deleted: w.r.IntN(6) == 0}
	if w.r.IntN(4) > 0 {
		cur := w.pick(rollupCurrencies...)
		c.Currency = &cur
	}
	return c
}

// write stores a batch of new rows of table mixed with new versions of
// stored ones, through the store's Upsert or Apply (INSERT ... ON CONFLICT
// DO UPDATE: both the insert and the update triggers fire).
func (w *rollupWorld) write(table string, apply bool) string {
	ctx := w.t.Context()
	var ids []string
	for range w.r.IntN(4) + 1 {
		ids = append(ids, w.newID(table[:2]))
	}
	fresh := len(ids)
	ids = append(ids, w.existing(table, w.r.IntN(4))...)
	var err error
	switch table {
	case "charges":
		var rows []store.Charge
		for _, id := range ids {
			rows = append(rows, w.charge(id))
		}
		if apply {
			_, err = w.st.ApplyCharges(ctx, rows)
		} else {
			_, err = w.st.UpsertCharges(ctx, rows)
		}
	case "refunds":
		var rows []store.Refund
		for _, id := range ids {
			rows = append(rows, w.refund(id))
		}
		if apply {
			_, err = w.st.ApplyRefunds(ctx, rows)
		} else {
			_, err = w.st.UpsertRefunds(ctx, rows)
		}
	case "invoices":
		var rows []store.Invoice
		for _, id := range ids {
			rows = append(rows, w.invoice(id))
		}
		if apply {
			_, err = w.st.ApplyInvoices(ctx, rows)
		} else {
			_, err = w.st.UpsertInvoices(ctx, rows)
		}
	case "customers":
		var rows []store.Customer
		for _, id := range ids {
			rows = append(rows, w.customer(id))
		}
		if apply {
			_, err = w.st.ApplyCustomers(ctx, rows)
		} else {
			_, err = w.st.UpsertCustomers(ctx, rows)
		}
	}
	if err != nil {
		w.t.Fatalf("write %s: %v", table, err)
	}
	w.ids[table] = append(w.ids[table], ids[:fresh]...)
	how := "upsert"
	if apply {
		how = "apply"
	}
	return fmt.Sprintf("%s %d new + %d stored %s", how, fresh, len(ids)-fresh, table)
}

// update changes key columns and amounts of stored rows with plain SQL.
func (w *rollupWorld) update(table string) string {
	ids := w.existing(table, w.r.IntN(5)+1)
	var q string
	args := []any{pq.Array(ids)}
	switch w.r.IntN(4) {
	case 0:
		q, args = `UPDATE `+table+` SET created = created + make_interval(hours => $2) WHERE id = ANY($1)`, append(args, w.r.IntN(60)-30)
	case 1:
		col := map[string]string{"charges": "amount", "refunds": "amount", "invoices": "total", "customers": "balance"}[table]
		if table == "invoices" && w.r.IntN(2) == 0 {
			col = "amount_remaining"
		}
		q, args = `UPDATE `+table+` SET `+col+` = `+col+` + $2 WHERE id = ANY($1)`, append(args, w.amount())
	case 2:
		if table == "customers" {
			q, args = `UPDATE customers SET currency = nullif($2, 'none') WHERE id = ANY($1)`, append(args, w.pick("usd", "jpy", "none"))
		} else {
			q, args = `UPDATE `+table+` SET currency = $2 WHERE id = ANY($1)`, append(args, w.pick(rollupCurrencies...))
		}
	default:
		switch table {
		case "charges":
			q = `UPDATE charges SET amount_refunded = CASE WHEN refunded THEN 0 ELSE amount / 2 END,
				refunded = NOT refunded, disputed = NOT disputed, status = CASE status WHEN 'pending' THEN 'succeeded' ELSE status END
				WHERE id = ANY($1)`
		case "refunds":
			q, args = `UPDATE refunds SET status = nullif($2, 'none') WHERE id = ANY($1)`, append(args, w.pick("succeeded", "failed", "none"))
		case "invoices":
			switch w.r.IntN(4) {
			case 0:
				q, args = `UPDATE invoices SET status = $2, deleted = NOT deleted WHERE id = ANY($1)`, append(args, w.pick("open", "paid", "void"))
			case 1:
				// Paid, or reopened, with the amount left to match.
				q, args = `UPDATE invoices SET status = $2,
					amount_remaining = CASE WHEN $2 = 'paid' THEN 0 ELSE total END WHERE id = ANY($1)`, append(args, w.pick("open", "paid"))
			case 2:
				// The due date moves, often across today's start or the
				// present.
				q, args = `UPDATE invoices SET due_date = due_date + make_interval(mins => $2) WHERE id = ANY($1)`,
					append(args, w.r.IntN(3000)-1500)
			default:
				due := w.due()
				q, args = `UPDATE invoices SET due_date = $2 WHERE id = ANY($1)`, append(args, due)
			}
		case "customers":
			q = `UPDATE customers SET deleted = NOT deleted WHERE id = ANY($1)`
		}
	}
	w.st.DB().MustExecContext(w.t.Context(), q, args...)
	return fmt.Sprintf("update %d %s", len(ids), table)
}

func (w *rollupWorld) remove(table string) string {
	ids := w.existing(table, w.r.IntN(3)+1)
	w.st.DB().MustExecContext(w.t.Context(), `DELETE FROM `+table+` WHERE id = ANY($1)`, pq.Array(ids))
	return fmt.Sprintf("delete %d %s", len(ids), table)
}

// seed appends made-up rows with the seed's COPY.
func (w *rollupWorld) seed() string {
	w.seeds++
	now := time.Date(w.base.Year(), w.base.Month(), w.base.Day()+w.r.IntN(8), w.r.IntN(24), 0, 0, 0, time.UTC)
	if _, err := w.st.Seed(w.t.Context(), store.SeedOptions{Customers: 4, Invoices: 5, Charges: 8, Refunds: 3,
		Seed: 1000 + w.seeds, Append: true, Now: now}); err != nil {
		w.t.Fatalf("seed: %v", err)
	}
	return "seed (COPY)"
}

// step makes one random change and says what it was.
func (w *rollupWorld) step() string {
	table := w.pick("charges", "charges", "refunds", "invoices", "customers")
	switch n := w.r.IntN(20); {
	case n < 5:
		return w.write(table, false)
	case n < 9:
		return w.write(table, true)
	case n < 13:
		return w.update(table)
	case n < 15:
		return w.remove(table)
	case n < 16:
		return w.seed()
	default:
		merged, err := w.st.CompactRollups(w.t.Context())
		if err != nil {
			w.t.Fatal(err)
		}
		return fmt.Sprintf("compact (%d rows merged)", merged)
	}
}

var rollupLists = map[string][]string{
	"customers": store.CustomerStatuses,
	"invoices":  store.InvoiceStatuses,
	"charges":   store.ChargeStatuses,
	"refunds":   store.RefundStatuses,
}

// midnight is the start of the base day + d in the world's zone.
func (w *rollupWorld) midnight(d int) time.Time {
	return time.Date(w.base.Year(), w.base.Month(), w.base.Day()+d, 0, 0, 0, 0, w.loc)
}

// check compares every list's totals read both ways for each status tab
// and, when full, for currencies and created ranges too; and the
// overview's figures for the period.
func (w *rollupWorld) check(what string, full bool) {
	w.t.Helper()
	ctx := w.t.Context()
	for list, statuses := range rollupLists {
		var filters []store.ListFilter
		for _, status := range append([]string{""}, statuses...) {
			filters = append(filters, store.ListFilter{Status: status})
		}
		var ranged []store.ListFilter
		for _, cur := range append(rollupCurrencies, "") {
			ranged = append(ranged,
				store.ListFilter{Currency: cur},
				store.ListFilter{Currency: cur, CreatedFrom: w.midnight(1), CreatedTo: w.midnight(4)},
				store.ListFilter{Currency: cur, CreatedFrom: w.midnight(2)},
				store.ListFilter{Currency: cur, CreatedTo: w.midnight(3), Status: statuses[w.r.IntN(len(statuses))]},
				store.ListFilter{Currency: cur, CreatedFrom: w.midnight(0), CreatedTo: w.midnight(1)},
			)
		}
		if list == "invoices" {
			for _, cur := range rollupCurrencies {
				ranged = append(ranged, store.ListFilter{Status: "past_due", Currency: cur})
			}
		}
		if full {
			filters = append(filters, ranged...)
		} else {
			filters = append(filters, ranged[w.r.IntN(len(ranged))], ranged[w.r.IntN(len(ranged))])
		}
		for _, f := range filters {
			rollup, used, raw, err := w.st.TotalsBothWaysAtOnce(ctx, list, f)
			if err != nil {
				w.t.Fatalf("after %s: %s %+v: %v", what, list, f, err)
			}
			// past_due is read from the open-invoice rollup, by due day:
			// with created bounds, from the rows.
			dated := !f.CreatedFrom.IsZero() || !f.CreatedTo.IsZero()
			if want := !(list == "invoices" && f.Status == "past_due" && dated); used != want {
				w.t.Fatalf("after %s: %s %+v: rollup used %v, want %v", what, list, f, used, want)
			}
			if used && !reflect.DeepEqual(rollup, raw) {
				w.t.Fatalf("after %s: %s status %q currency %q created [%v, %v):\nrollup %+v\nrows   %+v",
					what, list, f.Status, f.Currency, f.CreatedFrom, f.CreatedTo, rollup, raw)
			}
		}
		// A range that is not on the zone's midnights is aggregated from
		// the rows.
		off := store.ListFilter{CreatedFrom: w.midnight(1).Add(time.Hour)}
		if _, used, _, err := w.st.TotalsBothWays(ctx, list, off); err != nil || used {
			w.t.Fatalf("after %s: %s from 01:00: rollup used %v (%v)", what, list, used, err)
		}
	}
	checkMonthlyLevels(w.t, w.st, "after "+what)
	var days []time.Time
	for d := range 7 {
		days = append(days, w.midnight(d))
	}
	if charges, refunds, err := w.st.OverviewUsesRollups(ctx, days); err != nil || !charges || !refunds {
		w.t.Fatalf("after %s: overview reads rollups: charges %v refunds %v (%v)", what, charges, refunds, err)
	}
	// Open and past-due invoices at the present (due dates cluster
	// around it), at the start of today and a minute into it, at the
	// start of tomorrow, and in the days created covers.
	present := time.Now().In(w.loc)
	today := time.Date(present.Year(), present.Month(), present.Day(), 0, 0, 0, 0, w.loc)
	nows := []time.Time{present, today, today.Add(time.Minute), today.AddDate(0, 0, 1), w.midnight(3).Add(5 * time.Hour)}
	if !full {
		nows = []time.Time{present, nows[1+w.r.IntN(len(nows)-1)]}
	}
	for _, now := range nows {
		if used, err := w.st.OverviewOpenInvoicesUseRollup(ctx, now); err != nil || !used {
			w.t.Fatalf("after %s: overview reads the open-invoice rollup: %v (%v)", what, used, err)
		}
		got, err := w.st.Summary(ctx, days, now)
		if err != nil {
			w.t.Fatal(err)
		}
		want, err := w.st.SummaryFromRows(ctx, days, now)
		if err != nil {
			w.t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			w.t.Fatalf("after %s: overview at %v\nrollup %+v\nrows   %+v", what, now, got, want)
		}
	}
}

// TestRollupsEqualRows applies random sequences of writes of every kind
// (upserts and applies that insert and update in one statement, plain
// updates of key columns and amounts, deletes, seeds by COPY, compactions)
// and after each compares the rollups' figures with the rows'; then moves
// the rollups to other zones and goes on. ROLLUP_SEED repeats a run.
func TestRollupsEqualRows(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("ROLLUP_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("ROLLUP_SEED=%d", seed)
	st := storetest.New(t)
	w := &rollupWorld{t: t, st: st, r: rand.New(rand.NewPCG(seed, 5)), loc: time.UTC,
		// The week of the United States' spring DST change.
		base: time.Date(2025, 3, 6, 0, 0, 0, 0, time.UTC), ids: map[string][]string{}}
	w.check("nothing", true)
	run := func(steps int) {
		for i := range steps {
			what := w.step()
			w.check(fmt.Sprintf("step %d: %s", i, what), i%10 == 9)
		}
		if _, err := st.CompactRollups(t.Context()); err != nil {
			t.Fatal(err)
		}
		w.check("the final compaction", true)
	}
	run(60)

	for _, zone := range []string{"America/New_York", "Asia/Kathmandu"} {
		rebuilt, err := st.EnsureRollupZone(t.Context(), zone)
		if err != nil || !rebuilt {
			t.Fatalf("EnsureRollupZone(%s): rebuilt %v, %v", zone, rebuilt, err)
		}
		if w.loc, err = time.LoadLocation(zone); err != nil {
			t.Fatal(err)
		}
		w.check("the move to "+zone, true)
		// UTC midnights are not New York's or Kathmandu's: from the rows.
		utc := store.ListFilter{CreatedFrom: time.Date(2025, 3, 7, 0, 0, 0, 0, time.UTC)}
		if _, used, _, err := st.TotalsBothWays(t.Context(), "charges", utc); err != nil || used {
			t.Fatalf("UTC midnight in %s: rollup used %v (%v)", zone, used, err)
		}
		run(25)
	}
	if rebuilt, err := st.EnsureRollupZone(t.Context(), "Asia/Kathmandu"); err != nil || rebuilt {
		t.Fatalf("EnsureRollupZone with the stored zone: rebuilt %v, %v", rebuilt, err)
	}
	for _, bad := range []string{"UTC+3", "Local", "Mars/Olympus_Mons", ""} {
		if _, err := st.EnsureRollupZone(t.Context(), bad); err == nil {
			t.Errorf("EnsureRollupZone(%q) accepted", bad)
		}
	}
	if zone, err := st.RollupZone(t.Context()); err != nil || zone != "Asia/Kathmandu" {
		t.Errorf("zone after refused changes: %q, %v", zone, err)
	}
}

// TestRollupUpsertPath: one INSERT ... ON CONFLICT DO UPDATE that inserts
// a row and moves another to a new currency, status and day counts both,
// exactly, with amounts beyond 32 bits, and so does COPY.
func TestRollupUpsertPath(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()
	day := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	big := int64(1) << 41
	ch := func(id string, amount int64, cur, status string, created time.Time, version int64) store.Charge {
		return store.Charge{ID: id, Amount: amount, Currency: cur, Status: status, Created: created, Data: rawJSON(id), Version: version}
	}
	if _, err := st.UpsertCharges(ctx, []store.Charge{ch("ch_a", 100, "usd", "succeeded", day.Add(time.Hour), 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyCharges(ctx, []store.Charge{
		ch("ch_a", 1234, "bhd", "failed", day.Add(25*time.Hour), 2),
		ch("ch_b", big, "usd", "succeeded", day.Add(2*time.Hour), 1),
		ch("ch_c", big+1, "jpy", "succeeded", day.Add(3*time.Hour), 1),
	}); err != nil {
		t.Fatal(err)
	}
	// A stale version changes nothing.
	if _, err := st.ApplyCharges(ctx, []store.Charge{ch("ch_b", 5, "eur", "failed", day, 1)}); err != nil {
		t.Fatal(err)
	}
	firstDay := store.ListFilter{CreatedFrom: day, CreatedTo: day.AddDate(0, 0, 1)}
	got, used, raw, err := st.TotalsBothWays(ctx, "charges", firstDay)
	if err != nil || !used {
		t.Fatalf("rollup used %v, %v", used, err)
	}
	want := []store.CurrencyTotal{{Currency: "jpy", Count: 1, Amount: big + 1}, {Currency: "usd", Count: 1, Amount: big}}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(raw, want) {
		t.Errorf("first day: rollup %+v rows %+v, want %+v", got, raw, want)
	}
	failed := store.ListFilter{Status: "failed"}
	if got, _, raw, _ := st.TotalsBothWays(ctx, "charges", failed); !reflect.DeepEqual(got, raw) ||
		!reflect.DeepEqual(got, []store.CurrencyTotal{{Currency: "bhd", Count: 1, Amount: 1234}}) {
		t.Errorf("failed: rollup %+v rows %+v", got, raw)
	}
	// The ON CONFLICT statement wrote a +1 and a -1 for ch_a: before
	// compaction there are more rows than keys, after it one per key.
	var rows int
	if err := st.DB().GetContext(ctx, &rows, `SELECT count(*) FROM rollup_charges`); err != nil {
		t.Fatal(err)
	}
	if rows != 5 {
		t.Errorf("%d delta rows before compaction, want 5 (usd +1, usd -1, bhd +1, usd +1, jpy +1)", rows)
	}
	// 2 of rollup_charges (usd's three rows into one) and 4 of its monthly
	// level (usd's five: the first upsert's, one from each of the ON
	// CONFLICT statement's trigger runs, and the compaction's - and +),
	// and 2 of rollup_charges_amount (ch_a's +1 and -1 in usd's $1 bucket,
	// which cancel).
	if merged, err := st.CompactRollups(ctx); err != nil || merged != 8 {
		t.Errorf("compaction merged %d (%v), want 8", merged, err)
	}
	if got, _, raw, _ := st.TotalsBothWays(ctx, "charges", store.ListFilter{}); !reflect.DeepEqual(got, raw) || len(got) != 3 {
		t.Errorf("after compaction: rollup %+v rows %+v", got, raw)
	}

	if _, err := st.Seed(ctx, store.SeedOptions{Customers: 20, Invoices: 30, Charges: 60, Refunds: 10, Seed: 9, Append: true}); err != nil {
		t.Fatal(err)
	}
	for list := range rollupLists {
		if got, used, raw, err := st.TotalsBothWays(ctx, list, store.ListFilter{}); err != nil || !used || !reflect.DeepEqual(got, raw) {
			t.Errorf("%s after seed: rollup %+v rows %+v (%v, %v)", list, got, raw, used, err)
		}
	}
	// TRUNCATE clears the rollup.
	st.DB().MustExecContext(ctx, `TRUNCATE refunds`)
	if got, _, _, _ := st.TotalsBothWays(ctx, "refunds", store.ListFilter{}); len(got) != 0 {
		t.Errorf("refunds after TRUNCATE: %+v", got)
	}
}

// TestRollupsConcurrentWriters: writers applying overlapping batches at
// once, with compactions running beside them, neither block one another
// on the rollups nor lose a change.
func TestRollupsConcurrentWriters(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 40 {
				var rows []store.Charge
				for range 5 {
					id := "ch_" + strconv.Itoa(r.IntN(30))
					rows = append(rows, store.Charge{ID: id, Amount: r.Int64N(1 << 35), Currency: []string{"usd", "jpy", "kwd"}[r.IntN(3)],
						Status: []string{"succeeded", "failed"}[r.IntN(2)], Created: base.Add(time.Duration(r.IntN(72)) * time.Hour),
						Data: rawJSON(id), Version: int64(i*4 + g)})
				}
				if _, err := st.UpsertCharges(ctx, rows); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var compactions sync.WaitGroup
	compactions.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := st.CompactRollups(ctx); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	compactions.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, f := range []store.ListFilter{{}, {Status: "failed"}, {Currency: "kwd", CreatedFrom: base.AddDate(0, 0, 1)}} {
		got, used, raw, err := st.TotalsBothWays(ctx, "charges", f)
		if err != nil || !used || !reflect.DeepEqual(got, raw) {
			t.Errorf("%+v: rollup %+v rows %+v (%v, %v)", f, got, raw, used, err)
		}
	}
}

// TestOpenInvoiceRollupToday pins the open-invoice rollup's figures in a
// zone off UTC by a fraction of an hour: invoices due before today, at
// today's start, earlier today, at the present instant, later today,
// tomorrow and never count as past due exactly as the rows say; paying,
// moving a due date into today, changing an amount, deleting, compacting
// and truncating keep them exact; without a stored zone the rows answer.
func TestOpenInvoiceRollupToday(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()
	if _, err := st.EnsureRollupZone(ctx, "Asia/Kathmandu"); err != nil {
		t.Fatal(err)
	}
	ktm, err := time.LoadLocation("Asia/Kathmandu")
	if err != nil {
		t.Fatal(err)
	}
	// 03:00 in Kathmandu is 21:15 UTC the day before: the local day and
	// the UTC day differ.
	now := time.Date(2025, 3, 9, 3, 0, 0, 0, ktm)
	at := func(day, h, m, s, ns int) *time.Time {
		d := time.Date(2025, 3, day, h, m, s, ns, ktm)
		return &d
	}
	open, paid := "open", "paid"
	var version int64
	inv := func(id, status, cur string, total, remaining int64, due *time.Time, deleted bool) store.Invoice {
		version++
		return store.Invoice{ID: id, Status: &status, Currency: cur, Total: total, AmountDue: total, AmountRemaining: remaining,
			DueDate: due, Deleted: deleted, Created: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Data: rawJSON(id), Version: version}
	}
	big := int64(1) << 40
	present := time.Now()
	if _, err := st.UpsertInvoices(ctx, []store.Invoice{
		inv("in_yesterday", open, "usd", 100, 60, at(8, 23, 59, 59, 999999000), false),
		inv("in_midnight", open, "usd", 200, 200, at(9, 0, 0, 0, 0), false),
		inv("in_earlier", open, "usd", 400, 300, at(9, 2, 59, 0, 0), false),
		inv("in_now", open, "usd", 800, 800, &now, false),
		inv("in_later", open, "usd", 1600, 1600, at(9, 23, 0, 0, 0), false),
		inv("in_tomorrow", open, "usd", 3200, 3200, at(10, 0, 0, 0, 0), false),
		inv("in_nodue", open, "usd", 6400, 6400, nil, false),
		inv("in_paid", paid, "usd", 12800, 0, at(8, 12, 0, 0, 0), false),
		inv("in_deleted", open, "usd", 25600, 25600, at(8, 12, 0, 0, 0), true),
		inv("in_jpy", open, "jpy", big, big, at(1, 0, 0, 0, 0), false),
	}); err != nil {
		t.Fatal(err)
	}
	// Two invoices around the real present, for the list, which reads the
	// database's now().
	if _, err := st.UpsertInvoices(ctx, []store.Invoice{
		inv("in_eur_due", open, "eur", 7, 7, ptr(present.Add(-time.Minute)), false),
		inv("in_eur_soon", open, "eur", 9, 9, ptr(present.Add(time.Hour)), false),
	}); err != nil {
		t.Fatal(err)
	}

	// figures: open count, open remaining, past-due count, past-due remaining.
	type figures [4]int64
	check := func(step string, want map[string]figures) {
		t.Helper()
		if used, err := st.OverviewOpenInvoicesUseRollup(ctx, now); err != nil || !used {
			t.Fatalf("%s: open-invoice rollup used %v (%v)", step, used, err)
		}
		days := []time.Time{now.AddDate(0, 0, -1), now}
		got, err := st.Summary(ctx, days, now)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := st.SummaryFromRows(ctx, days, now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, rows) {
			t.Errorf("%s: rollup %+v\nrows   %+v", step, got, rows)
		}
		for _, cur := range []string{"usd", "jpy"} {
			c, _ := got.Currency(cur)
			if have := (figures{c.OpenInvoiceCount, c.OpenInvoices, c.PastDueCount, c.PastDue}); have != want[cur] {
				t.Errorf("%s: %s open/past due %v, want %v", step, cur, have, want[cur])
			}
		}
	}
	check("stored", map[string]figures{
		"usd": {7, 60 + 200 + 300 + 800 + 1600 + 3200 + 6400, 3, 60 + 200 + 300},
		"jpy": {1, big, 1, big},
	})
	// The list's past_due, at the real present: every March 2025 due date
	// has passed, and one of the two euro invoices.
	got, used, raw, err := st.TotalsBothWaysAtOnce(ctx, "invoices", store.ListFilter{Status: "past_due"})
	want := []store.CurrencyTotal{
		{Currency: "usd", Count: 6, Amount: 100 + 200 + 400 + 800 + 1600 + 3200},
		{Currency: "eur", Count: 1, Amount: 7},
		{Currency: "jpy", Count: 1, Amount: big},
	}
	if err != nil || !used || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(raw, want) {
		t.Errorf("past_due list totals: rollup %+v rows %+v (used %v, %v), want %+v", got, raw, used, err, want)
	}
	got, used, _, err = st.TotalsBothWaysAtOnce(ctx, "invoices", store.ListFilter{Status: "past_due", Currency: "eur"})
	if err != nil || !used || !reflect.DeepEqual(got, want[1:2]) {
		t.Errorf("past_due eur totals: %+v (used %v, %v)", got, used, err)
	}

	// Paid through Apply: no longer open.
	earlier := inv("in_earlier", paid, "usd", 400, 0, at(9, 2, 59, 0, 0), false)
	if _, err := st.ApplyInvoices(ctx, []store.Invoice{earlier}); err != nil {
		t.Fatal(err)
	}
	check("in_earlier paid", map[string]figures{
		"usd": {6, 60 + 200 + 800 + 1600 + 3200 + 6400, 2, 60 + 200},
		"jpy": {1, big, 1, big},
	})
	// Tomorrow's invoice moves to earlier today, yesterday's is part paid.
	st.DB().MustExecContext(ctx, `UPDATE invoices SET due_date = $1 WHERE id = 'in_tomorrow'`, at(9, 1, 0, 0, 0))
	st.DB().MustExecContext(ctx, `UPDATE invoices SET amount_remaining = 10 WHERE id = 'in_yesterday'`)
	want2 := map[string]figures{
		"usd": {6, 10 + 200 + 800 + 1600 + 3200 + 6400, 3, 10 + 200 + 3200},
		"jpy": {1, big, 1, big},
	}
	check("due date and amount changed", want2)
	// An update of nothing the rollup keeps adds no delta row.
	var before, after int
	if err := st.DB().GetContext(ctx, &before, `SELECT count(*) FROM rollup_open_invoices`); err != nil {
		t.Fatal(err)
	}
	st.DB().MustExecContext(ctx, `UPDATE invoices SET data = '{"id":"x"}', number = 'N-1' WHERE currency = 'usd'`)
	if err := st.DB().GetContext(ctx, &after, `SELECT count(*) FROM rollup_open_invoices`); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("an update of other columns added %d delta rows", after-before)
	}
	st.DB().MustExecContext(ctx, `DELETE FROM invoices WHERE id = 'in_jpy'`)
	want2["jpy"] = figures{}
	check("in_jpy deleted", want2)
	if merged, err := st.CompactRollups(ctx); err != nil || merged == 0 {
		t.Fatalf("compaction merged %d (%v)", merged, err)
	}
	check("compacted", want2)
	var keys, rows int
	if err := st.DB().GetContext(ctx, &rows, `SELECT count(*) FROM rollup_open_invoices`); err != nil {
		t.Fatal(err)
	}
	if err := st.DB().GetContext(ctx, &keys, `SELECT count(*) FROM (SELECT DISTINCT day, currency, deleted FROM rollup_open_invoices) k`); err != nil {
		t.Fatal(err)
	}
	if rows != keys {
		t.Errorf("after compaction %d rows for %d keys", rows, keys)
	}
	// The rebuild in another zone gives the same figures.
	if _, err := st.EnsureRollupZone(ctx, "America/New_York"); err != nil {
		t.Fatal(err)
	}
	check("rebuilt in New York days", want2)

	st.DB().MustExecContext(ctx, `TRUNCATE invoices CASCADE`)
	check("truncated", map[string]figures{})
	if err := st.DB().GetContext(ctx, &rows, `SELECT count(*) FROM rollup_open_invoices`); err != nil || rows != 0 {
		t.Errorf("rollup rows after TRUNCATE: %d (%v)", rows, err)
	}

	// Without a stored zone the rollup cannot say which day is today: the
	// rows answer.
	if _, err := st.UpsertInvoices(ctx, []store.Invoice{inv("in_again", open, "usd", 5, 5, at(8, 0, 0, 0, 0), false)}); err != nil {
		t.Fatal(err)
	}
	st.DB().MustExecContext(ctx, `DELETE FROM rollup_zone`)
	if used, err := st.OverviewOpenInvoicesUseRollup(ctx, now); err != nil || used {
		t.Errorf("without a zone: open-invoice rollup used %v (%v)", used, err)
	}
	if _, used, raw, err := st.TotalsBothWaysAtOnce(ctx, "invoices", store.ListFilter{Status: "past_due"}); err != nil || used ||
		!reflect.DeepEqual(raw, []store.CurrencyTotal{{Currency: "usd", Count: 1, Amount: 5}}) {
		t.Errorf("without a zone: past_due used %v rows %+v (%v)", used, raw, err)
	}
	sum, err := st.Summary(ctx, []time.Time{now.AddDate(0, 0, -1), now}, now)
	if c, _ := sum.Currency("usd"); err != nil || c.OpenInvoiceCount != 1 || c.PastDue != 5 {
		t.Errorf("without a zone: summary %+v (%v)", sum, err)
	}
}
