package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// The detail pages' reads. The invoice and charge pages read their object
// and the rows related to it in one read-only REPEATABLE READ transaction,
// so an invoice and its lines, or a charge and its refunds, come from the
// same snapshot even while webhooks apply changes. Every statement is an indexed lookup: a
// primary key, or one of the (parent, created) indexes of 00001_mirror.sql
// and 00005_detail_indexes.sql.

// RelatedLimit is how many related rows (a customer's invoices, charges and
// refunds; a charge's refunds; an invoice's payment attempts) a detail page
// shows. Each query reads one more row to tell whether there are more.
const RelatedLimit = 20

// HistoryLimit is how many of an invoice's events its page shows, oldest
// first.
const HistoryLimit = 200

// InvoiceSummary is an invoice as a row of a related-rows table.
type InvoiceSummary struct {
	ID              string     `db:"id"`
	Number          *string    `db:"number"`
	Status          *string    `db:"status"`
	Currency        string     `db:"currency"`
	Total           int64      `db:"total"`
	AmountDue       int64      `db:"amount_due"`
	AmountRemaining int64      `db:"amount_remaining"`
	DueDate         *time.Time `db:"due_date"`
	Created         time.Time  `db:"created"`
}

// ChargeSummary is a charge as a row of a related-rows table.
type ChargeSummary struct {
	ID             string    `db:"id"`
	Customer       *string   `db:"customer"`
	Amount         int64     `db:"amount"`
	AmountRefunded int64     `db:"amount_refunded"`
	Currency       string    `db:"currency"`
	Status         string    `db:"status"`
	Refunded       bool      `db:"refunded"`
	Disputed       bool      `db:"disputed"`
	CardBrand      *string   `db:"card_brand"`
	CardLast4      *string   `db:"card_last4"`
	Description    *string   `db:"description"`
	Created        time.Time `db:"created"`
}

// RefundSummary is a refund as a row of a related-rows table.
type RefundSummary struct {
	ID       string    `db:"id"`
	Charge   *string   `db:"charge"`
	Amount   int64     `db:"amount"`
	Currency string    `db:"currency"`
	Status   *string   `db:"status"`
	Reason   *string   `db:"reason"`
	Created  time.Time `db:"created"`
}

// CustomerDetail is the customer page: the customer and their latest
// invoices, charges and refunds (refunds of their charges), newest first,
// at most RelatedLimit each; More* says there are older ones.
type CustomerDetail struct {
	Customer                               Customer
	Invoices                               []InvoiceSummary
	Charges                                []ChargeSummary
	Refunds                                []RefundSummary
	MoreInvoices, MoreCharges, MoreRefunds bool
}

// InvoiceEvent is one stored event about an invoice: its type, when Stripe
// created it, what the queue did with it, and the invoice status the event
// carries.
type InvoiceEvent struct {
	ID            string    `db:"id"`
	Type          string    `db:"type"`
	Created       time.Time `db:"-"`
	CreatedUnix   int64     `db:"created"`
	QueueStatus   string    `db:"status"`
	InvoiceStatus *string   `db:"invoice_status"`
}

// InvoiceDetail is the invoice page: the invoice with every stored line
// (Invoice.Lines, in position order), its status history from the stored
// events (oldest first, at most HistoryLimit) and the charges made for it
// (payment attempts, newest first, at most RelatedLimit).
type InvoiceDetail struct {
	Invoice     Invoice
	History     []InvoiceEvent
	MoreHistory bool
	Charges     []ChargeSummary
	MoreCharges bool
}

// ChargeOutcome is a charge's outcome (data.outcome) as Stripe states it.
type ChargeOutcome struct {
	NetworkStatus string `json:"network_status"`
	Type          string `json:"type"`
	SellerMessage string `json:"seller_message"`
	RiskLevel     string `json:"risk_level"`
	Reason        string `json:"reason"`
}

// ChargeDetail is the charge page: the charge, the names of its customer
// and invoice where the mirror has them, its outcome, and its refunds
// (newest first, at most RelatedLimit).
type ChargeDetail struct {
	Charge        Charge
	CustomerName  *string
	CustomerEmail *string
	InvoiceNumber *string
	Outcome       *ChargeOutcome // nil when the charge has none
	Refunds       []RefundSummary
	MoreRefunds   bool
}

// RefundDetail is the refund page: the refund and its charge (nil when the
// mirror does not hold it), with the charge's customer's name.
type RefundDetail struct {
	Refund       Refund
	Charge       *ChargeSummary
	CustomerName *string
}

// RefundableAmount is how much of charge c can still be refunded, in c's
// minor units: what was captured less what was refunded already, for a
// succeeded, captured charge; 0 for any other (failed, pending, or only
// authorised), and never negative.
func RefundableAmount(c Charge) int64 {
	if c.Status != "succeeded" || !c.Captured {
		return 0
	}
	return max(c.AmountCaptured-c.AmountRefunded, 0)
}

// Column lists: named, not *, so a column added by a later migration does
// not break the scans.
const (
	customerColumns = `id, livemode, email, name, phone, description, currency, balance, delinquent, deleted,
       created, data, version, synced_at`
	invoiceColumns = `id, livemode, customer, customer_email, customer_name, number, status, collection_method,
       currency, subtotal, tax, total, amount_due, amount_paid, amount_remaining, due_date, created,
       hosted_invoice_url, invoice_pdf, charge, payment_intent, lines_total_count, deleted, lines_hash,
       data, version, synced_at`
	chargeColumns = `c.id, c.livemode, c.customer, c.invoice, c.payment_intent, c.amount, c.amount_captured,
       c.amount_refunded, c.currency, c.status, c.paid, c.captured, c.refunded, c.disputed, c.failure_code,
       c.failure_message, c.description, c.receipt_email, c.receipt_number, c.billing_name, c.card_brand,
       c.card_last4, c.created, c.data, c.version, c.synced_at`
	refundColumns = `r.id, r.livemode, r.charge, r.payment_intent, r.amount, r.currency, r.status, r.reason,
       r.receipt_number, r.failure_reason, r.created, r.data, r.version, r.synced_at`
	invoiceSummaryColumns = `id, number, status, currency, total, amount_due, amount_remaining, due_date, created`
	chargeSummaryColumns  = `c.id, c.customer, c.amount, c.amount_refunded, c.currency, c.status, c.refunded,
       c.disputed, c.card_brand, c.card_last4, c.description, c.created`
	refundSummaryColumns = `r.id, r.charge, r.amount, r.currency, r.status, r.reason, r.created`
)

// CustomerDetail reads the customer page for id; ErrNotFound when the
// mirror has no such customer. Unlike the other pages it reads without a
// snapshot: its four sections are independent (each follows its own live
// events), and the page is the busiest of the four, so it saves the
// transaction's two round trips.
func (s *Store) CustomerDetail(ctx context.Context, id string) (CustomerDetail, error) {
	var d CustomerDetail
	err := func() error {
		if err := sqlxGet(ctx, s, &d.Customer, `SELECT `+customerColumns+` FROM customers WHERE id = $1`, id); err != nil {
			return notFound(err)
		}
		// Deleted drafts stay as tombstones (see UpsertInvoices); they are
		// not the customer's invoices any more.
		if err := sqlxSelect(ctx, s, &d.Invoices, `
SELECT `+invoiceSummaryColumns+` FROM invoices
WHERE customer = $1 AND NOT deleted
ORDER BY created DESC, id DESC LIMIT $2`, id, RelatedLimit+1); err != nil {
			return fmt.Errorf("invoices: %w", err)
		}
		if err := sqlxSelect(ctx, s, &d.Charges, `
SELECT `+chargeSummaryColumns+` FROM charges c
WHERE c.customer = $1
ORDER BY c.created DESC, c.id DESC LIMIT $2`, id, RelatedLimit+1); err != nil {
			return fmt.Errorf("charges: %w", err)
		}
		// Refunds carry no customer: they are found through the customer's
		// charges (charges_customer_created_idx, then
		// refunds_charge_created_idx for each).
		if err := sqlxSelect(ctx, s, &d.Refunds, `
SELECT `+refundSummaryColumns+` FROM charges c JOIN refunds r ON r.charge = c.id
WHERE c.customer = $1
ORDER BY r.created DESC, r.id DESC LIMIT $2`, id, RelatedLimit+1); err != nil {
			return fmt.Errorf("refunds: %w", err)
		}
		return nil
	}()
	if err != nil {
		return d, wrapDetail("customer", id, err)
	}
	d.Invoices, d.MoreInvoices = cut(d.Invoices, RelatedLimit)
	d.Charges, d.MoreCharges = cut(d.Charges, RelatedLimit)
	d.Refunds, d.MoreRefunds = cut(d.Refunds, RelatedLimit)
	return d, nil
}

// InvoiceDetail reads the invoice page for id; ErrNotFound when the mirror
// has no such invoice.
func (s *Store) InvoiceDetail(ctx context.Context, id string) (InvoiceDetail, error) {
	var d InvoiceDetail
	err := s.snapshot(ctx, func(tx *Store) error {
		if err := sqlxGet(ctx, tx, &d.Invoice, `SELECT `+invoiceColumns+` FROM invoices WHERE id = $1`, id); err != nil {
			return notFound(err)
		}
		if err := sqlxSelect(ctx, tx, &d.Invoice.Lines, `
SELECT invoice, id, position, type, description, quantity, unit_amount, amount, currency, period_start,
       period_end, data
FROM invoice_lines WHERE invoice = $1 ORDER BY position, id`, id); err != nil {
			return fmt.Errorf("lines: %w", err)
		}
		// The status an event carries is read from the delivery as stored
		// (json, not jsonb). Events of one second are put in the order an
		// invoice moves through its states, since Stripe often sends
		// invoice.finalized and invoice.paid with the same created time.
		if err := sqlxSelect(ctx, tx, &d.History, `
SELECT id, type, created, status, data->'data'->'object'->>'status' AS invoice_status
FROM events
WHERE object_type = 'invoice' AND object_id = $1
ORDER BY created,
         CASE data->'data'->'object'->>'status' WHEN 'draft' THEN 0 WHEN 'open' THEN 1 ELSE 2 END,
         received_at, id
LIMIT $2`, id, HistoryLimit+1); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		if err := sqlxSelect(ctx, tx, &d.Charges, `
SELECT `+chargeSummaryColumns+` FROM charges c
WHERE c.invoice = $1
ORDER BY c.created DESC, c.id DESC LIMIT $2`, id, RelatedLimit+1); err != nil {
			return fmt.Errorf("charges: %w", err)
		}
		return nil
	})
	if err != nil {
		return d, wrapDetail("invoice", id, err)
	}
	for i := range d.History {
		d.History[i].Created = time.Unix(d.History[i].CreatedUnix, 0)
	}
	d.History, d.MoreHistory = cut(d.History, HistoryLimit)
	d.Charges, d.MoreCharges = cut(d.Charges, RelatedLimit)
	return d, nil
}

// ChargeDetail reads the charge page for id; ErrNotFound when the mirror
// has no such charge.
func (s *Store) ChargeDetail(ctx context.Context, id string) (ChargeDetail, error) {
	var d ChargeDetail
	err := s.snapshot(ctx, func(tx *Store) error {
		var row struct {
			Charge
			CustomerName  *string `db:"customer_name"`
			CustomerEmail *string `db:"customer_email"`
			InvoiceNumber *string `db:"invoice_number"`
		}
		if err := sqlxGet(ctx, tx, &row, `
SELECT `+chargeColumns+`, cu.name AS customer_name, cu.email AS customer_email, i.number AS invoice_number
FROM charges c
LEFT JOIN customers cu ON cu.id = c.customer
LEFT JOIN invoices i ON i.id = c.invoice
WHERE c.id = $1`, id); err != nil {
			return notFound(err)
		}
		d.Charge, d.CustomerName, d.CustomerEmail, d.InvoiceNumber = row.Charge, row.CustomerName, row.CustomerEmail, row.InvoiceNumber
		if err := sqlxSelect(ctx, tx, &d.Refunds, `
SELECT `+refundSummaryColumns+` FROM refunds r
WHERE r.charge = $1
ORDER BY r.created DESC, r.id DESC LIMIT $2`, id, RelatedLimit+1); err != nil {
			return fmt.Errorf("refunds: %w", err)
		}
		return nil
	})
	if err != nil {
		return d, wrapDetail("charge", id, err)
	}
	d.Refunds, d.MoreRefunds = cut(d.Refunds, RelatedLimit)
	var obj struct {
		Outcome *ChargeOutcome `json:"outcome"`
	}
	// A charge whose stored object cannot be read still has a page; it
	// just shows no outcome.
	if json.Unmarshal(d.Charge.Data, &obj) == nil {
		d.Outcome = obj.Outcome
	}
	return d, nil
}

// RefundDetail reads the refund page for id; ErrNotFound when the mirror
// has no such refund.
func (s *Store) RefundDetail(ctx context.Context, id string) (RefundDetail, error) {
	var row struct {
		Refund
		ChargeID       *string    `db:"c_id"`
		ChargeCustomer *string    `db:"c_customer"`
		ChargeAmount   *int64     `db:"c_amount"`
		ChargeRefunded *int64     `db:"c_amount_refunded"`
		ChargeCurrency *string    `db:"c_currency"`
		ChargeStatus   *string    `db:"c_status"`
		ChargeIsRef    *bool      `db:"c_refunded"`
		ChargeDisputed *bool      `db:"c_disputed"`
		ChargeBrand    *string    `db:"c_card_brand"`
		ChargeLast4    *string    `db:"c_card_last4"`
		ChargeDesc     *string    `db:"c_description"`
		ChargeCreated  *time.Time `db:"c_created"`
		CustomerName   *string    `db:"customer_name"`
	}
	// One statement: no snapshot needed.
	err := sqlxGet(ctx, s, &row, `
SELECT `+refundColumns+`,
       c.id AS c_id, c.customer AS c_customer, c.amount AS c_amount, c.amount_refunded AS c_amount_refunded,
       c.currency AS c_currency, c.status AS c_status, c.refunded AS c_refunded, c.disputed AS c_disputed,
       c.card_brand AS c_card_brand, c.card_last4 AS c_card_last4, c.description AS c_description,
       c.created AS c_created, cu.name AS customer_name
FROM refunds r
LEFT JOIN charges c ON c.id = r.charge
LEFT JOIN customers cu ON cu.id = c.customer
WHERE r.id = $1`, id)
	if err != nil {
		return RefundDetail{}, wrapDetail("refund", id, notFound(err))
	}
	d := RefundDetail{Refund: row.Refund, CustomerName: row.CustomerName}
	if row.ChargeID != nil {
		d.Charge = &ChargeSummary{ID: *row.ChargeID, Customer: row.ChargeCustomer, Amount: *row.ChargeAmount,
			AmountRefunded: *row.ChargeRefunded, Currency: *row.ChargeCurrency, Status: *row.ChargeStatus,
			Refunded: *row.ChargeIsRef, Disputed: *row.ChargeDisputed, CardBrand: row.ChargeBrand,
			CardLast4: row.ChargeLast4, Description: row.ChargeDesc, Created: *row.ChargeCreated}
	}
	return d, nil
}

// snapshot runs fn in a read-only REPEATABLE READ transaction, so that its
// statements see one state of the mirror. Inside a transaction already, fn
// joins it.
func (s *Store) snapshot(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(&Store{db: s.db, q: tx, tx: tx, stmts: s.stmts, terms: s.terms}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// notFound turns "no rows" into ErrNotFound.
func notFound(err error) error {
	if isNoRows(err) {
		return ErrNotFound
	}
	return err
}

// wrapDetail names the object in err; errors.Is(err, ErrNotFound) still
// holds for a missing one.
func wrapDetail(what, id string, err error) error {
	return fmt.Errorf("store: load %s %s: %w", what, id, err)
}

// cut keeps the first limit rows and reports whether there were more.
func cut[T any](rows []T, limit int) ([]T, bool) {
	if len(rows) > limit {
		return rows[:limit], true
	}
	return rows, false
}
