package verify

import (
	"strconv"

	"paydesk/store"
)

// snapshot is the part of one object verify compares: the fields paydesk
// shows and totals on, rendered as literals ("text", 1500, true, null) so
// a report shows exactly what each side holds.
type snapshot struct {
	version int64
	deleted bool
	fields  []field
}

type field struct{ name, value string }

func customerSnapshot(c store.Customer) snapshot {
	return snapshot{version: c.Version, deleted: c.Deleted, fields: []field{
		{"email", text(c.Email)},
		{"name", text(c.Name)},
		{"deleted", boolean(c.Deleted)},
		{"balance", integer(c.Balance)},
		{"currency", text(c.Currency)},
	}}
}

// invoiceSnapshot takes the number of lines and their sum separately: the
// mirror counts its stored lines, Stripe's side counts the lines fetched.
func invoiceSnapshot(inv store.Invoice, lines, linesSum int64) snapshot {
	return snapshot{version: inv.Version, deleted: inv.Deleted, fields: []field{
		{"status", text(inv.Status)},
		{"total", integer(inv.Total)},
		{"amount_due", integer(inv.AmountDue)},
		{"amount_paid", integer(inv.AmountPaid)},
		{"amount_remaining", integer(inv.AmountRemaining)},
		{"currency", quoted(inv.Currency)},
		{"lines", integer(lines)},
		{"lines_sum", integer(linesSum)},
	}}
}

// stripeInvoiceSnapshot is an invoice as read from Stripe, its lines all
// fetched.
func stripeInvoiceSnapshot(inv store.Invoice) snapshot {
	var sum int64
	for _, l := range inv.Lines {
		sum += l.Amount
	}
	return invoiceSnapshot(inv, int64(len(inv.Lines)), sum)
}

func chargeSnapshot(c store.Charge) snapshot {
	return snapshot{version: c.Version, fields: []field{
		{"amount", integer(c.Amount)},
		{"amount_refunded", integer(c.AmountRefunded)},
		{"refunded", boolean(c.Refunded)},
		{"status", quoted(c.Status)},
		{"disputed", boolean(c.Disputed)},
		{"currency", quoted(c.Currency)},
	}}
}

func refundSnapshot(r store.Refund) snapshot {
	return snapshot{version: r.Version, fields: []field{
		{"amount", integer(r.Amount)},
		{"status", text(r.Status)},
		{"charge", text(r.Charge)},
		{"currency", quoted(r.Currency)},
	}}
}

// difference is one field on which the two sides disagree.
type difference struct{ field, mirror, stripe string }

// compare lists the fields on which mirror and stripe differ. A deleted
// object keeps no other fields on Stripe (a deleted customer is a stub),
// so when either side is deleted only deletion is compared.
func compare(mirror, stripe snapshot) []difference {
	if mirror.deleted || stripe.deleted {
		if mirror.deleted != stripe.deleted {
			return []difference{{"deleted", boolean(mirror.deleted), boolean(stripe.deleted)}}
		}
		return nil
	}
	var out []difference
	for i, f := range mirror.fields {
		if i < len(stripe.fields) && f.value != stripe.fields[i].value {
			out = append(out, difference{f.name, f.value, stripe.fields[i].value})
		}
	}
	return out
}

// snapshotsOf turns a page of rows read from Stripe (as backfill.List hands
// them over) into snapshots by id.
func snapshotsOf(rows any) map[string]snapshot {
	out := map[string]snapshot{}
	switch rs := rows.(type) {
	case []store.Customer:
		for _, r := range rs {
			out[r.ID] = customerSnapshot(r)
		}
	case []store.Invoice:
		for _, r := range rs {
			out[r.ID] = stripeInvoiceSnapshot(r)
		}
	case []store.Charge:
		for _, r := range rs {
			out[r.ID] = chargeSnapshot(r)
		}
	case []store.Refund:
		for _, r := range rs {
			out[r.ID] = refundSnapshot(r)
		}
	}
	return out
}

func text(s *string) string {
	if s == nil {
		return "null"
	}
	return quoted(*s)
}

// quoted renders s as a quoted string with every non-printable character
// escaped, so control characters and right-to-left overrides in a name
// cannot garble a terminal.
func quoted(s string) string { return strconv.Quote(s) }

func integer(n int64) string { return strconv.FormatInt(n, 10) }

func boolean(b bool) string { return strconv.FormatBool(b) }
