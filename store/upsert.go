package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
)

// The upserts take a batch of rows and write it in one statement: the rows
// travel as one array per column and unnest back into a set, so a page of
// 100 objects is one round trip. ON CONFLICT ... WHERE applies a row only
// when its version is newer than the stored one (Apply*) or not older
// (Upsert*), and RETURNING names the rows that were applied.

// UpsertCustomers writes customers, skipping any older than the stored
// version, and returns how many were applied. A deleted customer stays
// deleted: only another deletion may replace it, and a deletion keeps the
// last known profile, adding deleted: true to it.
func (s *Store) UpsertCustomers(ctx context.Context, rows []Customer) (int, error) {
	ids, err := s.upsertCustomers(ctx, rows, notOlder)
	return len(ids), err
}

// ApplyCustomers writes customers only where they are strictly newer than
// the stored version, and returns the ids written. See ApplyCharges.
func (s *Store) ApplyCustomers(ctx context.Context, rows []Customer) ([]string, error) {
	return s.upsertCustomers(ctx, rows, strictlyNewer)
}

func (s *Store) upsertCustomers(ctx context.Context, rows []Customer, o ordering) ([]string, error) {
	rows = newestOnly(rows, func(r Customer) (string, int64) { return r.ID, r.Version })
	if len(rows) == 0 {
		return nil, nil
	}
	n := len(rows)
	var (
		ids, datas                             = make([]string, n), make([]string, n)
		livemodes, delinquents, deleteds       = make([]bool, n), make([]bool, n), make([]bool, n)
		emails, names, phones, descs, currency = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		balances, createds, versions           = make([]int64, n), make([]int64, n), make([]int64, n)
	)
	for i, r := range rows {
		ids[i], livemodes[i], emails[i], names[i], phones[i] = r.ID, r.Livemode, r.Email, r.Name, r.Phone
		descs[i], currency[i], balances[i], delinquents[i], deleteds[i] = r.Description, r.Currency, r.Balance, r.Delinquent, r.Deleted
		createds[i], datas[i], versions[i] = unixOrZero(r.Created), string(r.Data), r.Version
	}
	var applied []string
	err := s.selectStrings(ctx, &applied, upsertCustomersSQL,
		pq.Array(ids), pq.Array(livemodes), pq.Array(emails), pq.Array(names), pq.Array(phones),
		pq.Array(descs), pq.Array(currency), pq.Array(balances), pq.Array(delinquents), pq.Array(deleteds),
		pq.Array(createds), pq.Array(datas), pq.Array(versions), bool(o))
	if err != nil {
		return nil, fmt.Errorf("store: upsert customers: %w", err)
	}
	return applied, nil
}

const upsertCustomersSQL = `
INSERT INTO customers AS t (id, livemode, email, name, phone, description, currency, balance,
                            delinquent, deleted, created, data, version, synced_at)
SELECT u.id, u.livemode, u.email, u.name, u.phone, u.description, u.currency, u.balance,
       u.delinquent, u.deleted, to_timestamp(u.created), u.data::jsonb, u.version, now()
FROM unnest($1::text[], $2::boolean[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::bigint[], $9::boolean[], $10::boolean[], $11::bigint[], $12::text[], $13::bigint[])
     AS u(id, livemode, email, name, phone, description, currency, balance, delinquent, deleted,
          created, data, version)
ON CONFLICT (id) DO UPDATE SET
    livemode    = EXCLUDED.livemode,
    email       = CASE WHEN EXCLUDED.deleted THEN t.email ELSE EXCLUDED.email END,
    name        = CASE WHEN EXCLUDED.deleted THEN t.name ELSE EXCLUDED.name END,
    phone       = CASE WHEN EXCLUDED.deleted THEN t.phone ELSE EXCLUDED.phone END,
    description = CASE WHEN EXCLUDED.deleted THEN t.description ELSE EXCLUDED.description END,
    currency    = CASE WHEN EXCLUDED.deleted THEN t.currency ELSE EXCLUDED.currency END,
    balance     = CASE WHEN EXCLUDED.deleted THEN t.balance ELSE EXCLUDED.balance END,
    delinquent  = CASE WHEN EXCLUDED.deleted THEN t.delinquent ELSE EXCLUDED.delinquent END,
    created     = CASE WHEN EXCLUDED.deleted THEN t.created ELSE EXCLUDED.created END,
    data        = CASE WHEN EXCLUDED.deleted THEN t.data || EXCLUDED.data ELSE EXCLUDED.data END,
    deleted     = EXCLUDED.deleted,
    version     = EXCLUDED.version,
    synced_at   = EXCLUDED.synced_at
WHERE (t.version < EXCLUDED.version OR t.version = EXCLUDED.version AND $14::boolean)
  AND (NOT t.deleted OR EXCLUDED.deleted)
RETURNING t.id`

// UpsertInvoices writes invoices and, for each one applied, replaces its
// stored lines with inv.Lines in the same transaction, so an invoice and its
// lines always belong to one version. A deleted (draft) invoice stays
// deleted: only another deletion may replace it.
func (s *Store) UpsertInvoices(ctx context.Context, rows []Invoice) (int, error) {
	ids, err := s.upsertInvoices(ctx, rows, notOlder)
	return len(ids), err
}

// ApplyInvoices writes invoices (and their lines) only where they are
// strictly newer than the stored version, and returns the ids written. See
// ApplyCharges.
func (s *Store) ApplyInvoices(ctx context.Context, rows []Invoice) ([]string, error) {
	return s.upsertInvoices(ctx, rows, strictlyNewer)
}

func (s *Store) upsertInvoices(ctx context.Context, rows []Invoice, o ordering) ([]string, error) {
	rows = newestOnly(rows, func(r Invoice) (string, int64) { return r.ID, r.Version })
	if len(rows) == 0 {
		return nil, nil
	}
	n := len(rows)
	var (
		ids, currencies, datas                     = make([]string, n), make([]string, n), make([]string, n)
		livemodes                                  = make([]bool, n)
		customers, emails, names, numbers          = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		statuses, methods, hosted, pdfs            = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		charges, intents                           = make([]*string, n), make([]*string, n)
		subtotals, totals, dues, paids, remainings = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		taxes, dueDates                            = make([]*int64, n), make([]*int64, n)
		createds, lineCounts, versions             = make([]int64, n), make([]int64, n), make([]int64, n)
		deleteds                                   = make([]bool, n)
		hashes                                     = make([]string, n)
	)
	for i, r := range rows {
		ids[i], livemodes[i], customers[i], emails[i], names[i] = r.ID, r.Livemode, r.Customer, r.CustomerEmail, r.CustomerName
		numbers[i], statuses[i], methods[i], currencies[i] = r.Number, r.Status, r.CollectionMethod, r.Currency
		subtotals[i], taxes[i], totals[i], dues[i], paids[i], remainings[i] = r.Subtotal, r.Tax, r.Total, r.AmountDue, r.AmountPaid, r.AmountRemaining
		dueDates[i], createds[i], hosted[i], pdfs[i] = unixPtr(r.DueDate), unixOrZero(r.Created), r.HostedInvoiceURL, r.InvoicePDF
		charges[i], intents[i], lineCounts[i], datas[i], versions[i] = r.Charge, r.PaymentIntent, r.LinesTotalCount, string(r.Data), r.Version
		deleteds[i], hashes[i] = r.Deleted, linesHash(r.Lines)
	}
	var appliedIDs []string
	err := s.InTx(ctx, func(tx *Store) error {
		// Most updates of an invoice leave its lines as they were; their
		// hash, read under the row locks the upsert would take anyway,
		// spares rewriting them.
		stored, err := tx.storedLinesHashes(ctx, ids)
		if err != nil {
			return err
		}
		if err := tx.selectStrings(ctx, &appliedIDs, upsertInvoicesSQL,
			pq.Array(ids), pq.Array(livemodes), pq.Array(customers), pq.Array(emails), pq.Array(names),
			pq.Array(numbers), pq.Array(statuses), pq.Array(methods), pq.Array(currencies),
			pq.Array(subtotals), pq.Array(taxes), pq.Array(totals), pq.Array(dues), pq.Array(paids),
			pq.Array(remainings), pq.Array(dueDates), pq.Array(createds), pq.Array(hosted), pq.Array(pdfs),
			pq.Array(charges), pq.Array(intents), pq.Array(lineCounts), pq.Array(datas), pq.Array(versions),
			pq.Array(deleteds), bool(o), pq.Array(hashes)); err != nil {
			return err
		}
		hashOf := make(map[string]string, n)
		for i, id := range ids {
			hashOf[id] = hashes[i]
		}
		var changed []string
		for _, id := range appliedIDs {
			if h, ok := stored[id]; !ok || h != hashOf[id] {
				changed = append(changed, id)
			}
		}
		if len(changed) == 0 {
			return nil
		}
		return tx.replaceLines(ctx, changed, rows)
	})
	if err != nil {
		return nil, fmt.Errorf("store: upsert invoices: %w", err)
	}
	return appliedIDs, nil
}

const upsertInvoicesSQL = `
INSERT INTO invoices AS t (id, livemode, customer, customer_email, customer_name, number, status,
                           collection_method, currency, subtotal, tax, total, amount_due, amount_paid,
                           amount_remaining, due_date, created, hosted_invoice_url, invoice_pdf,
                           charge, payment_intent, lines_total_count, data, version, deleted, lines_hash, synced_at)
SELECT u.id, u.livemode, u.customer, u.customer_email, u.customer_name, u.number, u.status,
       u.collection_method, u.currency, u.subtotal, u.tax, u.total, u.amount_due, u.amount_paid,
       u.amount_remaining, to_timestamp(u.due_date), to_timestamp(u.created), u.hosted_invoice_url,
       u.invoice_pdf, u.charge, u.payment_intent, u.lines_total_count, u.data::jsonb, u.version,
       u.deleted, u.lines_hash, now()
FROM unnest($1::text[], $2::boolean[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
            $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::text[], $19::text[],
            $20::text[], $21::text[], $22::bigint[], $23::text[], $24::bigint[], $25::boolean[],
            $27::text[])
     AS u(id, livemode, customer, customer_email, customer_name, number, status, collection_method,
          currency, subtotal, tax, total, amount_due, amount_paid, amount_remaining, due_date,
          created, hosted_invoice_url, invoice_pdf, charge, payment_intent, lines_total_count,
          data, version, deleted, lines_hash)
ON CONFLICT (id) DO UPDATE SET
    livemode           = EXCLUDED.livemode,
    customer           = EXCLUDED.customer,
    customer_email     = EXCLUDED.customer_email,
    customer_name      = EXCLUDED.customer_name,
    number             = EXCLUDED.number,
    status             = EXCLUDED.status,
    collection_method  = EXCLUDED.collection_method,
    currency           = EXCLUDED.currency,
    subtotal           = EXCLUDED.subtotal,
    tax                = EXCLUDED.tax,
    total              = EXCLUDED.total,
    amount_due         = EXCLUDED.amount_due,
    amount_paid        = EXCLUDED.amount_paid,
    amount_remaining   = EXCLUDED.amount_remaining,
    due_date           = EXCLUDED.due_date,
    created            = EXCLUDED.created,
    hosted_invoice_url = EXCLUDED.hosted_invoice_url,
    invoice_pdf        = EXCLUDED.invoice_pdf,
    charge             = EXCLUDED.charge,
    payment_intent     = EXCLUDED.payment_intent,
    lines_total_count  = EXCLUDED.lines_total_count,
    data               = EXCLUDED.data,
    version            = EXCLUDED.version,
    deleted            = EXCLUDED.deleted,
    lines_hash         = EXCLUDED.lines_hash,
    synced_at          = EXCLUDED.synced_at
WHERE (t.version < EXCLUDED.version OR t.version = EXCLUDED.version AND $26::boolean)
  AND (NOT t.deleted OR EXCLUDED.deleted)
RETURNING t.id`

// storedLinesHashes locks the stored invoices among ids, in id order so
// concurrent writers cannot deadlock, and returns their lines' hashes.
func (s *Store) storedLinesHashes(ctx context.Context, ids []string) (map[string]string, error) {
	rows, err := s.queryHot(ctx, `
SELECT id, coalesce(lines_hash, '') FROM invoices WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, pq.Array(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]string, len(ids))
	for rows.Next() {
		var id, h string
		if err := rows.Scan(&id, &h); err != nil {
			return nil, err
		}
		out[id] = h
	}
	return out, rows.Err()
}

// linesHash identifies a set of lines: their ids, order and contents.
func linesHash(lines []InvoiceLine) string {
	h := sha256.New()
	for _, l := range lines {
		fmt.Fprintf(h, "%d\x00%s\x00%d\x00", l.Position, l.ID, len(l.Data))
		h.Write(l.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// replaceLines deletes the stored lines of the applied invoices and inserts
// their new ones.
func (s *Store) replaceLines(ctx context.Context, appliedIDs []string, rows []Invoice) error {
	if _, err := s.execHot(ctx, `DELETE FROM invoice_lines WHERE invoice = ANY($1::text[])`, pq.Array(appliedIDs)); err != nil {
		return err
	}
	applied := make(map[string]bool, len(appliedIDs))
	for _, id := range appliedIDs {
		applied[id] = true
	}
	var (
		invoices, ids, currencies, datas []string
		positions, amounts               []int64
		types, descs                     []*string
		quantities, units, starts, ends  []*int64
	)
	for _, inv := range rows {
		if !applied[inv.ID] {
			continue
		}
		for _, l := range inv.Lines {
			invoices, ids, positions = append(invoices, inv.ID), append(ids, l.ID), append(positions, int64(l.Position))
			types, descs, quantities, units = append(types, l.Type), append(descs, l.Description), append(quantities, l.Quantity), append(units, l.UnitAmount)
			amounts, currencies = append(amounts, l.Amount), append(currencies, l.Currency)
			starts, ends, datas = append(starts, unixPtr(l.PeriodStart)), append(ends, unixPtr(l.PeriodEnd)), append(datas, string(l.Data))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// A line id repeated within one invoice would break the primary key;
	// Stripe never sends one, and if it did the first occurrence wins.
	_, err := s.execHot(ctx, `
INSERT INTO invoice_lines (invoice, id, position, type, description, quantity, unit_amount, amount,
                           currency, period_start, period_end, data)
SELECT u.invoice, u.id, u.position, u.type, u.description, u.quantity, u.unit_amount, u.amount,
       u.currency, to_timestamp(u.period_start), to_timestamp(u.period_end), u.data::jsonb
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
            $8::bigint[], $9::text[], $10::bigint[], $11::bigint[], $12::text[])
     AS u(invoice, id, position, type, description, quantity, unit_amount, amount, currency,
          period_start, period_end, data)
ON CONFLICT (invoice, id) DO NOTHING`,
		pq.Array(invoices), pq.Array(ids), pq.Array(positions), pq.Array(types), pq.Array(descs),
		pq.Array(quantities), pq.Array(units), pq.Array(amounts), pq.Array(currencies),
		pq.Array(starts), pq.Array(ends), pq.Array(datas))
	return err
}

// UpsertCharges writes charges, skipping any older than the stored version,
// and returns how many were applied.
func (s *Store) UpsertCharges(ctx context.Context, rows []Charge) (int, error) {
	ids, err := s.upsertCharges(ctx, rows, notOlder)
	return len(ids), err
}

// ApplyCharges writes charges only where they are strictly newer than the
// stored version, and returns the ids written. The event worker uses it:
// an event at the stored second may or may not be newer than what is
// stored, and the caller resolves that tie by fetching the object again
// (and storing it with UpsertCharges). Deciding inside the statement keeps
// two workers from both believing they hold the newest state.
func (s *Store) ApplyCharges(ctx context.Context, rows []Charge) ([]string, error) {
	return s.upsertCharges(ctx, rows, strictlyNewer)
}

func (s *Store) upsertCharges(ctx context.Context, rows []Charge, o ordering) ([]string, error) {
	rows = newestOnly(rows, func(r Charge) (string, int64) { return r.ID, r.Version })
	if len(rows) == 0 {
		return nil, nil
	}
	n := len(rows)
	var (
		ids, currencies, statuses, datas                = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		livemodes, paids, captureds, refundeds, dispute = make([]bool, n), make([]bool, n), make([]bool, n), make([]bool, n), make([]bool, n)
		customers, invoices, intents                    = make([]*string, n), make([]*string, n), make([]*string, n)
		failCodes, failMsgs, descs, emails, receipts    = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		billingNames, brands, last4s                    = make([]*string, n), make([]*string, n), make([]*string, n)
		amounts, captured, refunded                     = make([]int64, n), make([]int64, n), make([]int64, n)
		createds, versions                              = make([]int64, n), make([]int64, n)
	)
	for i, r := range rows {
		ids[i], livemodes[i], customers[i], invoices[i], intents[i] = r.ID, r.Livemode, r.Customer, r.Invoice, r.PaymentIntent
		amounts[i], captured[i], refunded[i], currencies[i], statuses[i] = r.Amount, r.AmountCaptured, r.AmountRefunded, r.Currency, r.Status
		paids[i], captureds[i], refundeds[i], dispute[i] = r.Paid, r.Captured, r.Refunded, r.Disputed
		failCodes[i], failMsgs[i], descs[i], emails[i], receipts[i] = r.FailureCode, r.FailureMessage, r.Description, r.ReceiptEmail, r.ReceiptNumber
		billingNames[i], brands[i], last4s[i] = r.BillingName, r.CardBrand, r.CardLast4
		createds[i], datas[i], versions[i] = unixOrZero(r.Created), string(r.Data), r.Version
	}
	var applied []string
	err := s.selectStrings(ctx, &applied, upsertChargesSQL,
		pq.Array(ids), pq.Array(livemodes), pq.Array(customers), pq.Array(invoices), pq.Array(intents),
		pq.Array(amounts), pq.Array(captured), pq.Array(refunded), pq.Array(currencies), pq.Array(statuses),
		pq.Array(paids), pq.Array(captureds), pq.Array(refundeds), pq.Array(dispute), pq.Array(failCodes),
		pq.Array(failMsgs), pq.Array(descs), pq.Array(emails), pq.Array(receipts), pq.Array(billingNames),
		pq.Array(brands), pq.Array(last4s), pq.Array(createds), pq.Array(datas), pq.Array(versions), bool(o))
	if err != nil {
		return nil, fmt.Errorf("store: upsert charges: %w", err)
	}
	return applied, nil
}

const upsertChargesSQL = `
INSERT INTO charges AS t (id, livemode, customer, invoice, payment_intent, amount, amount_captured,
                          amount_refunded, currency, status, paid, captured, refunded, disputed,
                          failure_code, failure_message, description, receipt_email, receipt_number,
                          billing_name, card_brand, card_last4, created, data, version, synced_at)
SELECT u.id, u.livemode, u.customer, u.invoice, u.payment_intent, u.amount, u.amount_captured,
       u.amount_refunded, u.currency, u.status, u.paid, u.captured, u.refunded, u.disputed,
       u.failure_code, u.failure_message, u.description, u.receipt_email, u.receipt_number,
       u.billing_name, u.card_brand, u.card_last4, to_timestamp(u.created), u.data::jsonb, u.version, now()
FROM unnest($1::text[], $2::boolean[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
            $8::bigint[], $9::text[], $10::text[], $11::boolean[], $12::boolean[], $13::boolean[],
            $14::boolean[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
            $20::text[], $21::text[], $22::text[], $23::bigint[], $24::text[], $25::bigint[])
     AS u(id, livemode, customer, invoice, payment_intent, amount, amount_captured, amount_refunded,
          currency, status, paid, captured, refunded, disputed, failure_code, failure_message,
          description, receipt_email, receipt_number, billing_name, card_brand, card_last4,
          created, data, version)
ON CONFLICT (id) DO UPDATE SET
    livemode        = EXCLUDED.livemode,
    customer        = EXCLUDED.customer,
    invoice         = EXCLUDED.invoice,
    payment_intent  = EXCLUDED.payment_intent,
    amount          = EXCLUDED.amount,
    amount_captured = EXCLUDED.amount_captured,
    amount_refunded = EXCLUDED.amount_refunded,
    currency        = EXCLUDED.currency,
    status          = EXCLUDED.status,
    paid            = EXCLUDED.paid,
    captured        = EXCLUDED.captured,
    refunded        = EXCLUDED.refunded,
    disputed        = EXCLUDED.disputed,
    failure_code    = EXCLUDED.failure_code,
    failure_message = EXCLUDED.failure_message,
    description     = EXCLUDED.description,
    receipt_email   = EXCLUDED.receipt_email,
    receipt_number  = EXCLUDED.receipt_number,
    billing_name    = EXCLUDED.billing_name,
    card_brand      = EXCLUDED.card_brand,
    card_last4      = EXCLUDED.card_last4,
    created         = EXCLUDED.created,
    data            = EXCLUDED.data,
    version         = EXCLUDED.version,
    synced_at       = EXCLUDED.synced_at
WHERE t.version < EXCLUDED.version OR t.version = EXCLUDED.version AND $26::boolean
RETURNING t.id`

// UpsertRefunds writes refunds, skipping any older than the stored version,
// and returns how many were applied.
func (s *Store) UpsertRefunds(ctx context.Context, rows []Refund) (int, error) {
	ids, err := s.upsertRefunds(ctx, rows, notOlder)
	return len(ids), err
}

// ApplyRefunds writes refunds only where they are strictly newer than the
// stored version, and returns the ids written. See ApplyCharges.
func (s *Store) ApplyRefunds(ctx context.Context, rows []Refund) ([]string, error) {
	return s.upsertRefunds(ctx, rows, strictlyNewer)
}

func (s *Store) upsertRefunds(ctx context.Context, rows []Refund, o ordering) ([]string, error) {
	rows = newestOnly(rows, func(r Refund) (string, int64) { return r.ID, r.Version })
	if len(rows) == 0 {
		return nil, nil
	}
	n := len(rows)
	var (
		ids, currencies, datas                       = make([]string, n), make([]string, n), make([]string, n)
		livemodes                                    = make([]bool, n)
		charges, intents, statuses, reasons, receipt = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		failures                                     = make([]*string, n)
		amounts, createds, versions                  = make([]int64, n), make([]int64, n), make([]int64, n)
	)
	for i, r := range rows {
		ids[i], livemodes[i], charges[i], intents[i], amounts[i] = r.ID, r.Livemode, r.Charge, r.PaymentIntent, r.Amount
		currencies[i], statuses[i], reasons[i], receipt[i], failures[i] = r.Currency, r.Status, r.Reason, r.ReceiptNumber, r.FailureReason
		createds[i], datas[i], versions[i] = unixOrZero(r.Created), string(r.Data), r.Version
	}
	var applied []string
	err := s.selectStrings(ctx, &applied, upsertRefundsSQL,
		pq.Array(ids), pq.Array(livemodes), pq.Array(charges), pq.Array(intents), pq.Array(amounts),
		pq.Array(currencies), pq.Array(statuses), pq.Array(reasons), pq.Array(receipt), pq.Array(failures),
		pq.Array(createds), pq.Array(datas), pq.Array(versions), bool(o))
	if err != nil {
		return nil, fmt.Errorf("store: upsert refunds: %w", err)
	}
	return applied, nil
}

const upsertRefundsSQL = `
INSERT INTO refunds AS t (id, livemode, charge, payment_intent, amount, currency, status, reason,
                          receipt_number, failure_reason, created, data, version, synced_at)
SELECT u.id, u.livemode, u.charge, u.payment_intent, u.amount, u.currency, u.status, u.reason,
       u.receipt_number, u.failure_reason, to_timestamp(u.created), u.data::jsonb, u.version, now()
FROM unnest($1::text[], $2::boolean[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::bigint[])
     AS u(id, livemode, charge, payment_intent, amount, currency, status, reason, receipt_number,
          failure_reason, created, data, version)
ON CONFLICT (id) DO UPDATE SET
    livemode       = EXCLUDED.livemode,
    charge         = EXCLUDED.charge,
    payment_intent = EXCLUDED.payment_intent,
    amount         = EXCLUDED.amount,
    currency       = EXCLUDED.currency,
    status         = EXCLUDED.status,
    reason         = EXCLUDED.reason,
    receipt_number = EXCLUDED.receipt_number,
    failure_reason = EXCLUDED.failure_reason,
    created        = EXCLUDED.created,
    data           = EXCLUDED.data,
    version        = EXCLUDED.version,
    synced_at      = EXCLUDED.synced_at
WHERE t.version < EXCLUDED.version OR t.version = EXCLUDED.version AND $14::boolean
RETURNING t.id`

func (s *Store) selectStrings(ctx context.Context, dest *[]string, query string, args ...any) error {
	rows, err := s.queryHot(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return err
		}
		*dest = append(*dest, v)
	}
	return rows.Err()
}

// ordering says whether an incoming row at the stored version replaces it.
type ordering bool

const (
	// notOlder: a state read from the API at the stored second is at least
	// as new as the stored one (see the package doc), so it replaces it.
	notOlder ordering = true
	// strictlyNewer: an event at the stored second is a tie the caller
	// resolves; it does not replace the stored state.
	strictlyNewer ordering = false
)

// newestOnly drops all but the newest version of each id within one batch:
// one INSERT ... ON CONFLICT cannot touch a row twice. On equal versions the
// later element wins, as it would have as a separate write. The result is
// in id order, so concurrent batches lock shared rows in the same order and
// wait for each other rather than deadlock.
func newestOnly[T any](rows []T, key func(T) (string, int64)) []T {
	seen := make(map[string]int, len(rows))
	out := rows[:0:0]
	for _, r := range rows {
		id, v := key(r)
		if i, ok := seen[id]; ok {
			if _, old := key(out[i]); v >= old {
				out[i] = r
			}
			continue
		}
		seen[id] = len(out)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b T) int {
		ida, _ := key(a)
		idb, _ := key(b)
		return strings.Compare(ida, idb)
	})
	return out
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	u := t.Unix()
	return &u
}
