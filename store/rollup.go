package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Rollups (migrations/00007_rollups.sql) hold, per mirror table, the row
// count and amount sum of each day of created (in the zone rollup_zone
// names) and each combination of the columns the status tabs use, as
// append-only delta rows that triggers add in the writing transaction.
// Summing a rollup over a range of days gives the same exact figures as
// aggregating the mirror rows, from a few thousand rows instead of a
// million.
//
// A reader uses a rollup only when the filter can be answered from it:
// status tabs the rollup has columns for, a currency, and created bounds
// that are local midnights in the stored zone. Every rollup read checks
// the zone and the bounds in the same statement as it sums, so a zone
// change (EnsureRollupZone) can never pair one zone's days with another's
// bounds; when the check fails the reader aggregates the mirror rows as
// before.

// rollupLockKey serialises EnsureRollupZone and CompactRollups across
// every process on the database ("paydroll").
const rollupLockKey = 0x70617964_726f6c6c

// rollupSpec is the rollup of one list.
type rollupSpec struct {
	table string
	// statuses maps each status tab the rollup can answer to its
	// condition on the rollup's columns. Invoices' past_due, which
	// depends on the clock, is read from the open-invoice rollup instead
	// (pastDueTotals).
	statuses map[string]string
	// monthly, when set, is the rollup's monthly level (migrations 00009
	// and 00017): the same columns with month (its first day) for day,
	// holding the sum of each month's daily rows.
	monthly string
}

// listRollups gives each list's rollup.
var listRollups = map[*listSpec]*rollupSpec{
	customerList: {
		table:    "rollup_customers",
		statuses: map[string]string{"": "NOT deleted", "deleted": "deleted", "all": "true"},
	},
	invoiceList: {
		table:   "rollup_invoices",
		monthly: "rollup_invoices_monthly",
		statuses: map[string]string{
			"":              "NOT deleted",
			"draft":         "NOT deleted AND status = 'draft'",
			"open":          "NOT deleted AND status = 'open'",
			"paid":          "NOT deleted AND status = 'paid'",
			"void":          "NOT deleted AND status = 'void'",
			"uncollectible": "NOT deleted AND status = 'uncollectible'",
		},
	},
	chargeList: {
		table:   "rollup_charges",
		monthly: "rollup_charges_monthly",
		statuses: map[string]string{
			"":                   "true",
			"succeeded":          "status = 'succeeded'",
			"failed":             "status = 'failed'",
			"pending":            "status = 'pending'",
			"refunded":           "refunded",
			"partially_refunded": "partially_refunded",
			"disputed":           "disputed",
		},
	},
	refundList: {
		table: "rollup_refunds",
		statuses: map[string]string{
			"":                "true",
			"succeeded":       "status = 'succeeded'",
			"pending":         "status = 'pending'",
			"failed":          "status = 'failed'",
			"canceled":        "status = 'canceled'",
			"requires_action": "status = 'requires_action'",
		},
	},
}

// rollupAligned is true when the created bounds $1 and $2 (each NULL when
// open) are midnights in the stored zone; NULL when no zone is stored.
const rollupAligned = `(SELECT ($1::timestamptz IS NULL OR ($1::timestamptz AT TIME ZONE zone)::time = '00:00')
        AND ($2::timestamptz IS NULL OR ($2::timestamptz AT TIME ZONE zone)::time = '00:00')
    FROM rollup_zone)`

// rollupMonthsWith splits the created bounds $1 and $2 (each NULL when
// open) into the days read from a daily rollup, [f, mf) and [mt, t), and
// the whole months read from its monthly level, [mf, mt): f and t are the
// bounds as dates of the stored zone (infinite when open), mf the first
// month start at or after f, mt the last month start at or before t. When
// no whole month lies between them, mf = mt = t: every day is read from
// the daily rollup and no month. (Bounds that are not midnights of the
// zone never get here: rollupAligned stops the reads.)
const rollupMonthsWith = `
WITH b AS MATERIALIZED (
    SELECT coalesce(f, '-infinity') AS f, coalesce(t, 'infinity') AS t,
           CASE WHEN f IS NULL THEN '-infinity'
                ELSE (date_trunc('month', (f - 1)::timestamp) + interval '1 month')::date END AS mf,
           CASE WHEN t IS NULL THEN 'infinity' ELSE date_trunc('month', t::timestamp)::date END AS mt
    FROM (SELECT (SELECT ($1::timestamptz AT TIME ZONE zone)::date FROM rollup_zone) AS f,
                 (SELECT ($2::timestamptz AT TIME ZONE zone)::date FROM rollup_zone) AS t) z),
w AS MATERIALIZED (
    SELECT f, t, CASE WHEN mf < mt THEN mf ELSE t END AS mf, CASE WHEN mf < mt THEN mt ELSE t END AS mt
    FROM b)`

// rollupTotals answers sp's totals for f from its rollup. ok is false when
// the rollup cannot answer f exactly (a filter it has no columns for, or
// created bounds that are not midnights in the stored zone); the caller
// then aggregates the rows.
func (s *Store) rollupTotals(ctx context.Context, sp *listSpec, f ListFilter) (out []CurrencyTotal, ok bool, err error) {
	r := listRollups[sp]
	if r == nil || strings.TrimSpace(f.Query) != "" || f.AmountMin != nil || f.AmountMax != nil ||
		f.Customer != "" || !f.DueFrom.IsZero() || !f.DueTo.IsZero() {
		return nil, false, nil
	}
	if sp == invoiceList && f.Status == "past_due" {
		// past_due depends on the clock: the open-invoice rollup keys it by
		// due day, not by day of created, so created bounds stay raw.
		if !f.CreatedFrom.IsZero() || !f.CreatedTo.IsZero() {
			return nil, false, nil
		}
		return s.pastDueTotals(ctx, f.Currency)
	}
	status, found := r.statuses[f.Status]
	if !found {
		return nil, false, nil
	}
	// $1 and $2 are the created bounds (NULL when open): each must fall on
	// a midnight of the stored zone, and is then the date it starts.
	var from, to *time.Time
	if !f.CreatedFrom.IsZero() {
		from = &f.CreatedFrom
	}
	if !f.CreatedTo.IsZero() {
		to = &f.CreatedTo
	}
	c := &conds{args: []any{from, to}}
	c.add(rollupAligned)
	c.add(status)
	if f.Currency != "" {
		c.add("currency = ?", f.Currency)
	}
	var source string
	if r.monthly != "" {
		// The whole months between the bounds from the monthly level, the
		// days before the first and after the last from the daily one.
		source = `(SELECT currency, n, amount FROM ` + r.table + c.where() + `
          AND ((day >= (SELECT f FROM w) AND day < (SELECT mf FROM w))
            OR (day >= (SELECT mt FROM w) AND day < (SELECT t FROM w)))
        UNION ALL
        SELECT currency, n, amount FROM ` + r.monthly + c.where() + `
          AND month >= (SELECT mf FROM w) AND month < (SELECT mt FROM w)) u`
	} else {
		if from != nil {
			c.add("day >= ($1::timestamptz AT TIME ZONE (SELECT zone FROM rollup_zone))::date")
		}
		if to != nil {
			c.add("day < ($2::timestamptz AT TIME ZONE (SELECT zone FROM rollup_zone))::date")
		}
		source = r.table + c.where()
	}
	// The zone is a scalar subquery, read once, in the statement's
	// snapshot; the planner then knows the outer side is one row (a join
	// to rollup_zone was estimated at hundreds, which made the plan
	// expensive enough for a JIT compilation costing 0.5 s). When the
	// bounds are not aligned, the same condition stops the scan at once.
	q := `
SELECT a.aligned, t.currency, t.count, t.amount
FROM (SELECT coalesce(` + rollupAligned + `, false) AS aligned) a
LEFT JOIN (
    SELECT currency, sum(n)::bigint AS count, sum(amount)::bigint AS amount
    FROM ` + source + `
    GROUP BY currency
    HAVING sum(n) <> 0) t ON true
ORDER BY t.count DESC, t.currency`
	if r.monthly != "" {
		q = rollupMonthsWith + q
	}
	rows, err := s.q.QueryContext(ctx, q, c.args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: totals of %s from the rollup: %w", sp.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var aligned bool
		var cur sql.NullString
		var count, amount sql.NullInt64
		if err := rows.Scan(&aligned, &cur, &count, &amount); err != nil {
			return nil, false, fmt.Errorf("store: totals of %s from the rollup: %w", sp.name, err)
		}
		ok = aligned
		if cur.Valid {
			out = append(out, CurrencyTotal{Currency: cur.String, Count: count.Int64, Amount: amount.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: totals of %s from the rollup: %w", sp.name, err)
	}
	if !ok {
		return nil, false, nil
	}
	return out, true, nil
}

// openInvoiceFiguresSQL reads, per currency, the open invoices (not
// deleted) and those past due at the instant $1 (NULL: the statement's
// now()) from rollup_open_invoices (migration 00008): open figures are the
// whole rollup; past-due ones are the due days strictly before the day of
// $1 in the stored zone from the rollup, plus the open invoices due
// earlier that same day from the rows (a range of invoices_open_due_idx,
// at most a day's worth). The zone is read by scalar subqueries in the
// statement's snapshot, so days and today always come from one zone; when
// no zone is stored, usable is false and the caller aggregates the rows.
// A currency condition, when the caller adds one, comes where %s stands
// (twice), on $2.
//
// The rows' part takes everything before $1 whose local day is not before
// $1's: where a zone's local dates run monotonically (every zone today),
// that is exactly today's invoices due before $1, and the lower bound two
// days back is past any day's start (no day is 48 hours long).
const openInvoiceFiguresSQL = `
SELECT a.usable, t.currency, t.open_count, t.open_remaining, t.past_due_count, t.past_due_total, t.past_due_remaining
FROM (SELECT EXISTS (SELECT FROM rollup_zone) AS usable) a
LEFT JOIN (
    SELECT currency,
           coalesce(sum(n) FILTER (WHERE open), 0)::bigint AS open_count,
           coalesce(sum(amount_remaining) FILTER (WHERE open), 0)::bigint AS open_remaining,
           coalesce(sum(n) FILTER (WHERE past_due), 0)::bigint AS past_due_count,
           coalesce(sum(total) FILTER (WHERE past_due), 0)::bigint AS past_due_total,
           coalesce(sum(amount_remaining) FILTER (WHERE past_due), 0)::bigint AS past_due_remaining
    FROM (
        SELECT currency, n, total, amount_remaining, true AS open,
               coalesce(day < (SELECT (coalesce($1::timestamptz, now()) AT TIME ZONE zone)::date FROM rollup_zone), false) AS past_due
        FROM rollup_open_invoices
        WHERE NOT deleted%s
        UNION ALL
        SELECT currency, 1, total, amount_remaining, false, true
        FROM invoices
        WHERE status = 'open' AND NOT deleted%s
          AND due_date >= coalesce($1::timestamptz, now()) - interval '2 days'
          AND due_date < coalesce($1::timestamptz, now())
          AND (due_date AT TIME ZONE (SELECT zone FROM rollup_zone))::date
              >= (SELECT (coalesce($1::timestamptz, now()) AT TIME ZONE zone)::date FROM rollup_zone)
    ) u
    GROUP BY currency) t ON true
ORDER BY t.currency`

// openInvoiceFigure is one currency's open and past-due invoices.
type openInvoiceFigure struct {
	Currency                                     string
	OpenCount, OpenRemaining                     int64
	PastDueCount, PastDueTotal, PastDueRemaining int64
}

// openInvoiceFigures reads the open and past-due invoices per currency
// (only cur when it is not "") at now (nil: the statement's now(), as the
// list's past_due condition has it) from the open-invoice rollup; ok is
// false when no zone is stored, and the caller then aggregates the rows.
// Currencies without an open invoice are left out.
func (s *Store) openInvoiceFigures(ctx context.Context, cur string, now *time.Time) (out []openInvoiceFigure, ok bool, err error) {
	var curCond string
	args := []any{now}
	if cur != "" {
		curCond = " AND currency = $2"
		args = append(args, cur)
	}
	rows, err := s.q.QueryContext(ctx, fmt.Sprintf(openInvoiceFiguresSQL, curCond, curCond), args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var usable bool
		var currency sql.NullString
		var f openInvoiceFigure
		var v [5]sql.NullInt64
		if err := rows.Scan(&usable, &currency, &v[0], &v[1], &v[2], &v[3], &v[4]); err != nil {
			return nil, false, err
		}
		ok = usable
		if !currency.Valid {
			continue
		}
		f = openInvoiceFigure{currency.String, v[0].Int64, v[1].Int64, v[2].Int64, v[3].Int64, v[4].Int64}
		// A currency whose delta rows cancel out holds no open invoice
		// (the rows' part only ever adds to past due, of open invoices
		// the rollup counts too).
		if f.OpenCount != 0 {
			out = append(out, f)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return out, ok, nil
}

// pastDueTotals is the invoices list's past_due totals (count and sum of
// total per currency, most invoices first) from the open-invoice rollup;
// ok as for openInvoiceFigures.
func (s *Store) pastDueTotals(ctx context.Context, cur string) ([]CurrencyTotal, bool, error) {
	figures, ok, err := s.openInvoiceFigures(ctx, cur, nil)
	if err != nil {
		return nil, false, fmt.Errorf("store: past-due totals from the rollup: %w", err)
	}
	if !ok {
		return nil, false, nil
	}
	var out []CurrencyTotal
	for _, f := range figures {
		if f.PastDueCount != 0 {
			out = append(out, CurrencyTotal{Currency: f.Currency, Count: f.PastDueCount, Amount: f.PastDueTotal})
		}
	}
	slices.SortFunc(out, func(a, b CurrencyTotal) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Currency, b.Currency))
	})
	return out, true, nil
}

// rollupDays is the head of the overview's rollup reads: a one-row
// relation a with whether every boundary of $1 is a midnight in the
// stored zone, and the boundaries as that zone's dates, in order. Scalar
// subqueries keep the planner's estimate at one row (see rollupTotals).
const rollupDays = `
SELECT a.aligned, t.*
FROM (SELECT coalesce((SELECT bool_and((b AT TIME ZONE zone)::time = '00:00')
                       FROM rollup_zone, unnest($1::timestamptz[]) AS b), false) AS aligned,
             (SELECT array_agg((b AT TIME ZONE zone)::date ORDER BY i)
              FROM rollup_zone, unnest($1::timestamptz[]) WITH ORDINALITY AS u(b, i)) AS dates) a`

// Succeeded charges per currency and day bucket, and failed ones per
// currency alone (day 0: the overview only counts them), from the rollup:
// the rollup form of overviewChargesSQL. Not splitting failed charges by
// day halves the rows a long period sends (12 months of six currencies:
// about 2,200 instead of 4,300), and their reading in Go.
const overviewChargesRollupSQL = rollupDays + `
LEFT JOIN LATERAL (
    SELECT currency, status,
           CASE WHEN status = 'succeeded' THEN width_bucket(day, a.dates) ELSE 0 END AS day,
           sum(amount)::bigint AS amount, sum(n)::bigint AS n
    FROM rollup_charges
    WHERE a.aligned AND day >= a.dates[1] AND day < a.dates[cardinality(a.dates)]
      AND status IN ('succeeded', 'failed')
    GROUP BY 1, 2, 3
    HAVING sum(n) <> 0) t ON true`

// Succeeded refunds per currency, from the rollup: the rollup form of
// overviewRefundsSQL.
const overviewRefundsRollupSQL = rollupDays + `
LEFT JOIN LATERAL (
    SELECT currency, sum(amount)::bigint AS amount
    FROM rollup_refunds
    WHERE a.aligned AND day >= a.dates[1] AND day < a.dates[cardinality(a.dates)]
      AND status = 'succeeded'
    GROUP BY currency
    HAVING sum(n) <> 0) t ON true`

// overviewCharge is one row of the overview's charge figures.
type overviewCharge struct {
	Currency string `db:"currency"`
	Status   string `db:"status"`
	Day      int    `db:"day"`
	Amount   int64  `db:"amount"`
	N        int64  `db:"n"`
}

// overviewRefund is one row of the overview's refund figures.
type overviewRefund struct {
	Currency string `db:"currency"`
	Amount   int64  `db:"amount"`
}

// rollupOverviewCharges reads the overview's charge figures for the days
// bounds from the rollup; ok is false when a bound is not a midnight in
// the stored zone.
func (s *Store) rollupOverviewCharges(ctx context.Context, bounds []string) (out []overviewCharge, ok bool, err error) {
	rows, err := s.q.QueryContext(ctx, overviewChargesRollupSQL, pq.Array(bounds))
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var aligned bool
		var cur, status sql.NullString
		var day, amount, n sql.NullInt64
		if err := rows.Scan(&aligned, &cur, &status, &day, &amount, &n); err != nil {
			return nil, false, err
		}
		ok = aligned
		if cur.Valid {
			out = append(out, overviewCharge{cur.String, status.String, int(day.Int64), amount.Int64, n.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return out, ok, nil
}

// rollupOverviewRefunds reads the overview's refund figures between the
// first and the last of bounds from the rollup; ok as for
// rollupOverviewCharges.
func (s *Store) rollupOverviewRefunds(ctx context.Context, bounds []string) (out []overviewRefund, ok bool, err error) {
	rows, err := s.q.QueryContext(ctx, overviewRefundsRollupSQL, pq.Array(bounds))
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var aligned bool
		var cur sql.NullString
		var amount sql.NullInt64
		if err := rows.Scan(&aligned, &cur, &amount); err != nil {
			return nil, false, err
		}
		ok = aligned
		if cur.Valid {
			out = append(out, overviewRefund{cur.String, amount.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return out, ok, nil
}

// rollupRebuildSQL recomputes every rollup kept by day from the mirror
// rows in the zone $1. The mirror tables must be locked against writes.
// The amount rollups (migration 00015) do not depend on the zone and stay
// as they are: their triggers keep them exact through the rebuild (which
// writes no mirror row).
var rollupRebuildSQL = []string{
	`DELETE FROM rollup_charges`,
	`INSERT INTO rollup_charges (day, currency, status, refunded, partially_refunded, disputed, n, amount)
SELECT (created AT TIME ZONE $1)::date, currency, status, refunded, amount_refunded > 0 AND NOT refunded,
       disputed, count(*), sum(amount)
FROM charges GROUP BY 1, 2, 3, 4, 5, 6`,
	// The triggers on rollup_charges have kept its monthly level equal to
	// it through the two statements above; rebuilt too, so that it holds
	// one row per key rather than the old zone's rows and their negations.
	`DELETE FROM rollup_charges_monthly`,
	`INSERT INTO rollup_charges_monthly (month, currency, status, refunded, partially_refunded, disputed, n, amount)
SELECT date_trunc('month', day::timestamp)::date, currency, status, refunded, partially_refunded, disputed,
       sum(n), sum(amount)
FROM rollup_charges GROUP BY 1, 2, 3, 4, 5, 6
HAVING sum(n) <> 0 OR sum(amount) <> 0`,
	`DELETE FROM rollup_refunds`,
	`INSERT INTO rollup_refunds (day, currency, status, n, amount)
SELECT (created AT TIME ZONE $1)::date, currency, status, count(*), sum(amount)
FROM refunds GROUP BY 1, 2, 3`,
	`DELETE FROM rollup_invoices`,
	`INSERT INTO rollup_invoices (day, currency, status, deleted, n, amount)
SELECT (created AT TIME ZONE $1)::date, currency, status, deleted, count(*), sum(total)
FROM invoices GROUP BY 1, 2, 3, 4`,
	// Its monthly level likewise (see rollup_charges_monthly above).
	`DELETE FROM rollup_invoices_monthly`,
	`INSERT INTO rollup_invoices_monthly (month, currency, status, deleted, n, amount)
SELECT date_trunc('month', day::timestamp)::date, currency, status, deleted, sum(n), sum(amount)
FROM rollup_invoices GROUP BY 1, 2, 3, 4
HAVING sum(n) <> 0 OR sum(amount) <> 0`,
	`DELETE FROM rollup_open_invoices`,
	`INSERT INTO rollup_open_invoices (day, currency, deleted, n, total, amount_remaining)
SELECT (due_date AT TIME ZONE $1)::date, currency, deleted, count(*), sum(total), sum(amount_remaining)
FROM invoices WHERE status = 'open' GROUP BY 1, 2, 3`,
	`DELETE FROM rollup_customers`,
	`INSERT INTO rollup_customers (day, currency, deleted, n, amount)
SELECT (created AT TIME ZONE $1)::date, coalesce(currency, ''), deleted, count(*), sum(balance)
FROM customers GROUP BY 1, 2, 3`,
}

// RollupZone is the time zone the rollups' days are in.
func (s *Store) RollupZone(ctx context.Context) (string, error) {
	var zone string
	if err := sqlxGet(ctx, s, &zone, `SELECT zone FROM rollup_zone`); err != nil {
		return "", fmt.Errorf("store: rollup zone: %w", err)
	}
	return zone, nil
}

// EnsureRollupZone makes zone (an IANA name PostgreSQL knows, such as
// "Europe/Berlin" or "UTC") the rollups' zone. When it already is, this
// costs one query; otherwise every rollup by day is rebuilt from the
// mirror rows in one transaction, with the mirror tables locked against
// writes (reads go on) so that no change is missed or counted twice (the
// amount rollups, which have no days, are left alone). Readers see the
// old rollups until it commits and the new ones after. It reports whether
// it rebuilt.
func (s *Store) EnsureRollupZone(ctx context.Context, zone string) (rebuilt bool, err error) {
	if zone == "" {
		return false, fmt.Errorf("store: rollup zone: empty zone name")
	}
	err = s.InTx(ctx, func(tx *Store) error {
		if _, err := tx.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(rollupLockKey)); err != nil {
			return fmt.Errorf("store: rollup zone: lock: %w", err)
		}
		current, err := tx.RollupZone(ctx)
		if err != nil {
			return err
		}
		if current == zone {
			return nil
		}
		// pg_timezone_names lists the IANA zones; a POSIX string such as
		// "UTC+3" would be accepted by AT TIME ZONE with the opposite sign
		// to what Go makes of it, so only listed names are taken.
		var known bool
		if err := sqlxGet(ctx, tx, &known, `SELECT EXISTS (SELECT FROM pg_timezone_names WHERE name = $1)`, zone); err != nil {
			return fmt.Errorf("store: rollup zone: %w", err)
		}
		if !known {
			return fmt.Errorf("store: rollup zone: PostgreSQL does not know the time zone %q", zone)
		}
		if _, err := tx.q.ExecContext(ctx, `LOCK TABLE customers, invoices, charges, refunds IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("store: rollup zone: lock the mirror: %w", err)
		}
		if _, err := tx.q.ExecContext(ctx, `UPDATE rollup_zone SET zone = $1`, zone); err != nil {
			return fmt.Errorf("store: rollup zone: %w", err)
		}
		for _, q := range rollupRebuildSQL {
			var args []any
			if strings.Contains(q, "$1") {
				args = []any{zone}
			}
			if _, err := tx.q.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("store: rollup zone: rebuild: %w", err)
			}
		}
		rebuilt = true
		return nil
	})
	return rebuilt, err
}

// rollupTables are the rollup tables with their key columns and the
// columns their delta rows sum, in the order CompactRollups takes them.
var rollupTables = []struct {
	table, keys string
	sums        []string
}{
	{"rollup_charges", "day, currency, status, refunded, partially_refunded, disputed", []string{"n", "amount"}},
	// After rollup_charges: merging its rows adds deltas here.
	{"rollup_charges_monthly", "month, currency, status, refunded, partially_refunded, disputed", []string{"n", "amount"}},
	{"rollup_refunds", "day, currency, status", []string{"n", "amount"}},
	{"rollup_invoices", "day, currency, status, deleted", []string{"n", "amount"}},
	// After rollup_invoices, like the charges' monthly level.
	{"rollup_invoices_monthly", "month, currency, status, deleted", []string{"n", "amount"}},
	{"rollup_customers", "day, currency, deleted", []string{"n", "amount"}},
	{"rollup_open_invoices", "day, currency, deleted", []string{"n", "total", "amount_remaining"}},
	// The amount rollups (rollup_amounts.go). They have no day, so
	// EnsureRollupZone does not rebuild them. The bucket comes first: the
	// window's sort then rarely compares text (twice as fast).
	{"rollup_charges_amount", "bucket, currency, status, refunded, partially_refunded, disputed", []string{"n", "amount"}},
	{"rollup_invoices_amount", "bucket, currency, status, deleted", []string{"n", "total"}},
}

// compactSQL merges the delta rows of each key that has more than one, and
// drops keys whose rows sum to nothing, and says how many rows fewer the
// table has. Keys with a single row are left alone, so a compaction with
// nothing to merge writes nothing. The rows it deletes and the merged rows
// it inserts commit together; rows a writer adds meanwhile are not in its
// snapshot and stay as they are.
// Key columns may be NULL (rollup_open_invoices' day): PARTITION BY and
// GROUP BY put NULLs together.
func compactSQL(table, keys string, sums []string) string {
	var windowed, zero, summed, nonzero []string
	for i, col := range sums {
		w := "s" + strconv.Itoa(i)
		windowed = append(windowed, "sum("+col+") OVER w AS "+w)
		zero = append(zero, w+" = 0")
		summed = append(summed, "sum("+col+")")
		nonzero = append(nonzero, "sum("+col+") <> 0")
	}
	return `
WITH counted AS (
    SELECT ctid AS tid, count(*) OVER w AS c, ` + strings.Join(windowed, ", ") + `
    FROM ` + table + `
    WINDOW w AS (PARTITION BY ` + keys + `)),
gone AS (
    DELETE FROM ` + table + `
    WHERE ctid IN (SELECT tid FROM counted WHERE c > 1 OR (` + strings.Join(zero, " AND ") + `))
    RETURNING *),
merged AS (
    INSERT INTO ` + table + ` (` + keys + `, ` + strings.Join(sums, ", ") + `)
    SELECT ` + keys + `, ` + strings.Join(summed, ", ") + `
    FROM gone
    GROUP BY ` + keys + `
    HAVING ` + strings.Join(nonzero, " OR ") + `
    RETURNING 1)
SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM merged)`
}

// CompactRollups merges the rollups' delta rows into one row per key. Only
// one process runs it at a time: when another holds the lock, it returns
// at once with merged = 0. merged is the number of delta rows removed.
// Readers get the same figures before, during and after.
func (s *Store) CompactRollups(ctx context.Context) (merged int64, err error) {
	err = s.InTx(ctx, func(tx *Store) error {
		var got bool
		if err := sqlxGet(ctx, tx, &got, `SELECT pg_try_advisory_xact_lock($1)`, int64(rollupLockKey)); err != nil {
			return fmt.Errorf("store: compact rollups: lock: %w", err)
		}
		if !got {
			return nil
		}
		for _, r := range rollupTables {
			var n int64
			if err := sqlxGet(ctx, tx, &n, compactSQL(r.table, r.keys, r.sums)); err != nil {
				return fmt.Errorf("store: compact %s: %w", r.table, err)
			}
			merged += n
		}
		return nil
	})
	return merged, err
}
