package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"
)

// EventQueue is the state of the webhook event queue.
type EventQueue struct {
	Queued, Failed int64
	// OtherAPIVersion counts events rendered at another API version than
	// the pinned one.
	OtherAPIVersion int64
}

// EventQueue counts queued and failed events and those at another API
// version, each from its partial index.
func (s *Store) EventQueue(ctx context.Context) (EventQueue, error) {
	var q EventQueue
	err := s.q.QueryRowxContext(ctx, `
SELECT (SELECT count(*) FROM events WHERE status = 'queued'),
       (SELECT count(*) FROM events WHERE status = 'failed'),
       (SELECT count(*) FROM events WHERE api_version <> '2023-10-16')`).Scan(&q.Queued, &q.Failed, &q.OtherAPIVersion)
	if err != nil {
		return q, fmt.Errorf("store: event queue: %w", err)
	}
	return q, nil
}

// CurrencySummary is one currency's figures for a period. Amounts are
// minor units of Currency.
type CurrencySummary struct {
	Currency string
	// Gross is the sum of the amounts of succeeded charges created in the
	// period; Payments counts them, FailedPayments counts failed ones.
	Gross                    int64
	Payments, FailedPayments int64
	// Refunds is the sum of succeeded refunds created in the period.
	Refunds int64
	// Net is Gross - Refunds.
	Net int64
	// OpenInvoices is the amount remaining on open invoices now, whatever
	// the period; PastDue the part of it whose due date has passed.
	OpenInvoices, PastDue          int64
	OpenInvoiceCount, PastDueCount int64
	// Daily is the gross volume of each day of the period, one entry per
	// day boundary pair given to Summary (zero on days without volume).
	Daily []int64
}

// Summary is the overview's figures for a period, per currency, ordered
// by gross volume (largest first), then currency code.
type Summary struct {
	Currencies []CurrencySummary
}

// Currency returns the summary of cur, and whether the period has one.
func (s Summary) Currency(cur string) (CurrencySummary, bool) {
	for _, c := range s.Currencies {
		if c.Currency == cur {
			return c, true
		}
	}
	return CurrencySummary{}, false
}

// The period's charges, one row per currency, status and day. Each day is
// a bucket between two of the boundaries ($1, sorted; $2 is the first,
// the period's start, and $3 the last, its end), which the caller computes in its
// display time zone, so days follow that zone's midnights and DST. The
// covering index charges_overview_idx makes this an index-only scan.
const overviewChargesSQL = `
SELECT currency, status, width_bucket(created, $1::timestamptz[]) AS day,
       sum(amount)::bigint AS amount, count(*) AS n
FROM charges
WHERE created >= $2 AND created < $3
  AND status IN ('succeeded', 'failed')
GROUP BY 1, 2, 3`

// Succeeded refunds of the period, per currency (refunds_overview_idx).
const overviewRefundsSQL = `
SELECT currency, sum(amount)::bigint AS amount
FROM refunds
WHERE status = 'succeeded' AND created >= $1 AND created < $2
GROUP BY currency`

// Open invoices now, per currency (invoices_open_overview_idx): the rows'
// form of openInvoiceFiguresSQL.
const overviewInvoicesSQL = `
SELECT currency,
       sum(amount_remaining)::bigint AS open, count(*) AS open_count,
       coalesce(sum(amount_remaining) FILTER (WHERE due_date < $1), 0)::bigint AS past_due,
       count(*) FILTER (WHERE due_date < $1) AS past_due_count
FROM invoices
WHERE status = 'open' AND NOT deleted
GROUP BY currency`

// overviewInvoice is one currency's open and past-due invoices.
type overviewInvoice struct {
	Currency     string `db:"currency"`
	Open         int64  `db:"open"`
	OpenCount    int64  `db:"open_count"`
	PastDue      int64  `db:"past_due"`
	PastDueCount int64  `db:"past_due_count"`
}

// Summary reads the overview's figures for the period between the first
// and the last of days, a sorted list of at least two instants: each
// adjacent pair is one day of the daily series. now decides which open
// invoices are past due. Sums are computed by PostgreSQL in numeric and
// returned as bigint, so they are exact (and fail loudly rather than wrap
// beyond int64).
func (s *Store) Summary(ctx context.Context, days []time.Time, now time.Time) (Summary, error) {
	return s.summary(ctx, days, now, true)
}

// summary is Summary; rollups false aggregates the rows whatever the
// days (the tests' reference).
func (s *Store) summary(ctx context.Context, days []time.Time, now time.Time, rollups bool) (Summary, error) {
	if len(days) < 2 || !slices.IsSortedFunc(days, func(a, b time.Time) int { return a.Compare(b) }) {
		return Summary{}, fmt.Errorf("store: summary: want at least two sorted day boundaries, got %d", len(days))
	}
	from, to := days[0], days[len(days)-1]
	bounds := make([]string, len(days))
	for i, d := range days {
		bounds[i] = d.UTC().Format(time.RFC3339Nano)
	}
	byCurrency := map[string]*CurrencySummary{}
	get := func(cur string) *CurrencySummary {
		c := byCurrency[cur]
		if c == nil {
			c = &CurrencySummary{Currency: cur, Daily: make([]int64, len(days)-1)}
			byCurrency[cur] = c
		}
		return c
	}

	// The three reads run one after the other: run at once on three
	// connections they measured no faster under make bench-pages' eight
	// clients on two cores (the work is the same; the pool and the
	// server juggle three times the connections) and the overview's p95
	// was worse.
	charges, err := s.summaryCharges(ctx, bounds, from, to, rollups)
	if err != nil {
		return Summary{}, err
	}
	refunds, err := s.summaryRefunds(ctx, bounds, from, to, rollups)
	if err != nil {
		return Summary{}, err
	}
	invoices, err := s.summaryInvoices(ctx, now, rollups)
	if err != nil {
		return Summary{}, err
	}
	for _, r := range charges {
		c := get(r.Currency)
		switch r.Status {
		case "succeeded":
			c.Gross += r.Amount
			c.Payments += r.N
			// width_bucket numbers the buckets from 1.
			if r.Day >= 1 && r.Day <= len(c.Daily) {
				c.Daily[r.Day-1] += r.Amount
			}
		case "failed":
			c.FailedPayments += r.N
		}
	}
	for _, r := range refunds {
		get(r.Currency).Refunds += r.Amount
	}
	for _, r := range invoices {
		c := get(r.Currency)
		c.OpenInvoices, c.OpenInvoiceCount = r.Open, r.OpenCount
		c.PastDue, c.PastDueCount = r.PastDue, r.PastDueCount
	}

	var sum Summary
	for _, c := range byCurrency {
		c.Net = c.Gross - c.Refunds
		sum.Currencies = append(sum.Currencies, *c)
	}
	slices.SortFunc(sum.Currencies, func(a, b CurrencySummary) int {
		return cmp.Or(cmp.Compare(b.Gross, a.Gross), cmp.Compare(a.Currency, b.Currency))
	})
	return sum, nil
}

// summaryCharges reads the period's succeeded and failed charges: days
// that are midnights of the rollup zone from the rollup (rollup.go),
// others, or every day when rollups is false, from the rows.
func (s *Store) summaryCharges(ctx context.Context, bounds []string, from, to time.Time, rollups bool) ([]overviewCharge, error) {
	if rollups {
		charges, ok, err := s.rollupOverviewCharges(ctx, bounds)
		if err != nil {
			return nil, fmt.Errorf("store: summary: charges: %w", err)
		}
		if ok {
			return charges, nil
		}
	}
	var charges []overviewCharge
	if err := sqlxSelect(ctx, s, &charges, overviewChargesSQL, pq.Array(bounds), from, to); err != nil {
		return nil, fmt.Errorf("store: summary: charges: %w", err)
	}
	return charges, nil
}

// summaryRefunds reads the period's succeeded refunds, from the rollup
// when the bounds allow, as summaryCharges.
func (s *Store) summaryRefunds(ctx context.Context, bounds []string, from, to time.Time, rollups bool) ([]overviewRefund, error) {
	if rollups {
		refunds, ok, err := s.rollupOverviewRefunds(ctx, []string{bounds[0], bounds[len(bounds)-1]})
		if err != nil {
			return nil, fmt.Errorf("store: summary: refunds: %w", err)
		}
		if ok {
			return refunds, nil
		}
	}
	var refunds []overviewRefund
	if err := sqlxSelect(ctx, s, &refunds, overviewRefundsSQL, from, to); err != nil {
		return nil, fmt.Errorf("store: summary: refunds: %w", err)
	}
	return refunds, nil
}

// summaryInvoices reads the open and past-due invoices at now, from their
// rollup (rollup.go) unless it is unusable or rollups is false.
func (s *Store) summaryInvoices(ctx context.Context, now time.Time, rollups bool) ([]overviewInvoice, error) {
	if rollups {
		figures, ok, err := s.openInvoiceFigures(ctx, "", &now)
		if err != nil {
			return nil, fmt.Errorf("store: summary: invoices: %w", err)
		}
		if ok {
			invoices := make([]overviewInvoice, 0, len(figures))
			for _, f := range figures {
				invoices = append(invoices, overviewInvoice{f.Currency, f.OpenRemaining, f.OpenCount, f.PastDueRemaining, f.PastDueCount})
			}
			return invoices, nil
		}
	}
	var invoices []overviewInvoice
	if err := sqlxSelect(ctx, s, &invoices, overviewInvoicesSQL, now); err != nil {
		return nil, fmt.Errorf("store: summary: invoices: %w", err)
	}
	return invoices, nil
}

// Activity is one recently created charge, refund or invoice.
type Activity struct {
	// Kind is "charge", "refund" or "invoice".
	Kind     string    `db:"kind"`
	ID       string    `db:"id"`
	Created  time.Time `db:"created"`
	Amount   int64     `db:"amount"`
	Currency string    `db:"currency"`
	Status   string    `db:"status"`
	// Label says who or what: a charge's billing name, receipt email or
	// customer; an invoice's number and customer; a refund's charge.
	Label string `db:"label"`
}

// Each branch reads its table's newest rows from its (created DESC, id
// DESC) index; the outer sort merges at most 3 × limit rows.
const recentActivitySQL = `
(SELECT 'charge' AS kind, id, created, amount, currency, status,
        coalesce(billing_name, receipt_email, customer, '') AS label
 FROM charges ORDER BY created DESC, id DESC LIMIT $1)
UNION ALL
(SELECT 'refund', id, created, amount, currency, coalesce(status, ''),
        coalesce(charge, '')
 FROM refunds ORDER BY created DESC, id DESC LIMIT $1)
UNION ALL
(SELECT 'invoice', id, created, total, currency, coalesce(status, ''),
        concat_ws(' · ', number, coalesce(customer_name, customer_email, customer))
 FROM invoices WHERE NOT deleted ORDER BY created DESC, id DESC LIMIT $1)
ORDER BY created DESC, id DESC
LIMIT $1`

// RecentActivity returns the limit most recently created charges, refunds
// and invoices together, newest first.
func (s *Store) RecentActivity(ctx context.Context, limit int) ([]Activity, error) {
	var out []Activity
	if err := sqlxSelect(ctx, s, &out, recentActivitySQL, limit); err != nil {
		return nil, fmt.Errorf("store: recent activity: %w", err)
	}
	return out, nil
}
