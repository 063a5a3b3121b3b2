package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"
)

// The reads below serve `paydesk verify`, which compares the mirror with
// Stripe. Each takes the table name from a fixed list, never from input.
// Deleted customers and invoices are left out of counts and id listings:
// Stripe's lists leave them out too.

// verifyTables are the tables VerifyCount, VerifySample and VerifyEachID
// accept, with whether they have a deleted column.
var verifyTables = map[string]bool{"customers": true, "invoices": true, "charges": false, "refunds": false}

func verifyTable(table string) (hasDeleted bool, err error) {
	hasDeleted, ok := verifyTables[table]
	if !ok {
		return false, fmt.Errorf("store: verify: unknown table %q", table)
	}
	return hasDeleted, nil
}

// liveWhere is the filter every verify read shares: the mode, objects
// created before a bound (none when nil), and for customers and invoices
// not deleted.
func liveWhere(hasDeleted bool) string {
	w := `livemode = $1 AND ($2::timestamptz IS NULL OR created < $2)`
	if hasDeleted {
		w += ` AND NOT deleted`
	}
	return w
}

// VerifyCount counts the objects of table in mode livemode, created before
// createdBefore (all when nil), leaving out deleted customers and invoices.
func (s *Store) VerifyCount(ctx context.Context, table string, livemode bool, createdBefore *time.Time) (int64, error) {
	hasDeleted, err := verifyTable(table)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := sqlxGet(ctx, s, &n, `SELECT count(*) FROM `+table+` WHERE `+liveWhere(hasDeleted), livemode, createdBefore); err != nil {
		return 0, fmt.Errorf("store: count %s: %w", table, err)
	}
	return n, nil
}

// VerifySample picks up to n ids of table in mode livemode at random,
// deleted customers and invoices included: a sample checks what the mirror
// holds, and Stripe still answers for a deleted customer.
func (s *Store) VerifySample(ctx context.Context, table string, livemode bool, n int) ([]string, error) {
	if _, err := verifyTable(table); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	// ORDER BY random() reads every id of the mode once (an index-only
	// scan of the primary key at best) and keeps the top n in memory:
	// unlike TABLESAMPLE it always returns n rows when there are n, and
	// every row is equally likely.
	var ids []string
	if err := sqlxSelect(ctx, s, &ids, `SELECT id FROM `+table+` WHERE livemode = $1 ORDER BY random() LIMIT $2`, livemode, n); err != nil {
		return nil, fmt.Errorf("store: sample %s: %w", table, err)
	}
	slices.Sort(ids)
	return ids, nil
}

// VerifyEachID calls fn with the id of every object of table in mode
// livemode created before createdBefore (all when nil), leaving out deleted
// customers and invoices. The ids are streamed, not held in memory; fn must
// not use the store.
func (s *Store) VerifyEachID(ctx context.Context, table string, livemode bool, createdBefore *time.Time, fn func(id string) error) error {
	hasDeleted, err := verifyTable(table)
	if err != nil {
		return err
	}
	rows, err := s.q.QueryContext(ctx, `SELECT id FROM `+table+` WHERE `+liveWhere(hasDeleted), livemode, createdBefore)
	if err != nil {
		return fmt.Errorf("store: list %s ids: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("store: list %s ids: %w", table, err)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: list %s ids: %w", table, err)
	}
	return nil
}

// VerifyCustomers returns the stored customers among ids with the fields
// verify compares (id, version, deleted, email, name, balance, currency);
// the other fields are left zero.
func (s *Store) VerifyCustomers(ctx context.Context, ids []string) ([]Customer, error) {
	var out []Customer
	if err := sqlxSelect(ctx, s, &out, `
SELECT id, version, deleted, email, name, balance, currency FROM customers WHERE id = ANY($1::text[]) ORDER BY id`,
		pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("store: verify customers: %w", err)
	}
	return out, nil
}

// InvoiceCheck is an invoice's compared fields with the count and sum of
// the lines stored for it.
type InvoiceCheck struct {
	Invoice
	LinesStored int64 `db:"lines_stored"`
	LinesSum    int64 `db:"lines_sum"`
}

// VerifyInvoices returns the stored invoices among ids with the fields
// verify compares (id, version, deleted, status, currency, total,
// amount_due, amount_paid, amount_remaining) and their stored lines' count
// and sum.
func (s *Store) VerifyInvoices(ctx context.Context, ids []string) ([]InvoiceCheck, error) {
	var out []InvoiceCheck
	if err := sqlxSelect(ctx, s, &out, `
SELECT i.id, i.version, i.deleted, i.status, i.currency, i.total, i.amount_due, i.amount_paid,
       i.amount_remaining, l.n AS lines_stored, l.total AS lines_sum
FROM invoices i
CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(amount), 0)::bigint AS total
                    FROM invoice_lines WHERE invoice = i.id) l
WHERE i.id = ANY($1::text[])
ORDER BY i.id`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("store: verify invoices: %w", err)
	}
	return out, nil
}

// VerifyCharges returns the stored charges among ids with the fields
// verify compares (id, version, amount, amount_refunded, refunded, status,
// disputed, currency).
func (s *Store) VerifyCharges(ctx context.Context, ids []string) ([]Charge, error) {
	var out []Charge
	if err := sqlxSelect(ctx, s, &out, `
SELECT id, version, amount, amount_refunded, refunded, status, disputed, currency
FROM charges WHERE id = ANY($1::text[]) ORDER BY id`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("store: verify charges: %w", err)
	}
	return out, nil
}

// VerifyRefunds returns the stored refunds among ids with the fields
// verify compares (id, version, amount, status, charge, currency).
func (s *Store) VerifyRefunds(ctx context.Context, ids []string) ([]Refund, error) {
	var out []Refund
	if err := sqlxSelect(ctx, s, &out, `
SELECT id, version, amount, status, charge, currency FROM refunds WHERE id = ANY($1::text[]) ORDER BY id`,
		pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("store: verify refunds: %w", err)
	}
	return out, nil
}

// ForgetLinesHash clears the stored hash of an invoice's lines, so that the
// next upsert of the invoice rewrites its lines. Upserts skip the lines when
// the incoming hash equals the stored one; verify --fix uses this when the
// stored lines themselves drifted and the hash no longer describes them.
func (s *Store) ForgetLinesHash(ctx context.Context, invoiceID string) error {
	if _, err := s.q.ExecContext(ctx, `UPDATE invoices SET lines_hash = NULL WHERE id = $1`, invoiceID); err != nil {
		return fmt.Errorf("store: forget lines hash of %s: %w", invoiceID, err)
	}
	return nil
}
