package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// Fixtures for the detail reads. Times count seconds from detailEpoch so
// that "newest first" is easy to state.
var detailEpoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func detailAt(sec int) time.Time { return detailEpoch.Add(time.Duration(sec) * time.Second) }

func detailCharge(id, customer string, sec int, amount int64, currency string) store.Charge {
	data, _ := json.Marshal(map[string]any{"id": id, "object": "charge"})
	return store.Charge{ID: id, Customer: ptr(customer), Amount: amount, AmountCaptured: amount, Currency: currency,
		Status: "succeeded", Paid: true, Captured: true, Created: detailAt(sec), Data: data, Version: 1}
}

func detailRefund(id, charge string, sec int, amount int64, currency string) store.Refund {
	return store.Refund{ID: id, Charge: ptr(charge), Amount: amount, Currency: currency, Status: ptr("succeeded"),
		Created: detailAt(sec), Data: json.RawMessage(`{"id":"` + id + `","object":"refund"}`), Version: 1}
}

func detailInvoice(id, customer string, sec int) store.Invoice {
	return store.Invoice{ID: id, Customer: ptr(customer), Status: ptr("paid"), Currency: "usd", Created: detailAt(sec),
		Data: json.RawMessage(`{"id":"` + id + `","object":"invoice"}`), Version: 1}
}

func mustUpsert[T any](t *testing.T, upsert func(context.Context, []T) (int, error), rows ...T) {
	t.Helper()
	if _, err := upsert(ctx, rows); err != nil {
		t.Fatal(err)
	}
}

func TestRefundableAmount(t *testing.T) {
	base := store.Charge{Status: "succeeded", Captured: true, Amount: 10_000, AmountCaptured: 10_000, Currency: "usd"}
	with := func(f func(*store.Charge)) store.Charge { c := base; f(&c); return c }
	big := int64(math.MaxInt32) * 3 // above 2^31: no 32-bit arithmetic anywhere
	for name, tc := range map[string]struct {
		c    store.Charge
		want int64
	}{
		"untouched":            {base, 10_000},
		"partially refunded":   {with(func(c *store.Charge) { c.AmountRefunded = 2_550 }), 7_450},
		"fully refunded":       {with(func(c *store.Charge) { c.AmountRefunded = 10_000; c.Refunded = true }), 0},
		"partially captured":   {with(func(c *store.Charge) { c.AmountCaptured = 6_000; c.AmountRefunded = 1_000 }), 5_000},
		"failed":               {with(func(c *store.Charge) { c.Status = "failed"; c.Captured = false; c.AmountCaptured = 0 }), 0},
		"pending":              {with(func(c *store.Charge) { c.Status = "pending" }), 0},
		"authorised only":      {with(func(c *store.Charge) { c.Captured = false; c.AmountCaptured = 0 }), 0},
		"over-refunded mirror": {with(func(c *store.Charge) { c.AmountRefunded = 12_000 }), 0},
		"jpy zero-decimal":     {with(func(c *store.Charge) { c.Currency = "jpy"; c.AmountCaptured = 5_000; c.AmountRefunded = 1 }), 4_999},
		"bhd three-decimal":    {with(func(c *store.Charge) { c.Currency = "bhd"; c.AmountCaptured = 1_234; c.AmountRefunded = 235 }), 999},
		"above 2^31":           {with(func(c *store.Charge) { c.AmountCaptured = big; c.AmountRefunded = 1 }), big - 1},
	} {
		if got := store.RefundableAmount(tc.c); got != tc.want {
			t.Errorf("%s: refundable %d, want %d", name, got, tc.want)
		}
	}
}

// The customer page reads the customer and their latest 20 invoices,
// charges and refunds, newest first, never another customer's, and says
// when there are more.
func TestCustomerDetail(t *testing.T) {
	st := storetest.New(t)
	cus := customer("cus_A", 1, hostile)
	cus.Data = json.RawMessage(`{"id":"cus_A","object":"customer","metadata":{"k":"` + "\u202Eevil" + `"}}`)
	mustUpsert(t, st.UpsertCustomers, cus, customer("cus_B", 1, "other"))

	var charges []store.Charge
	var refunds []store.Refund
	var invoices []store.Invoice
	for i := range 25 {
		charges = append(charges, detailCharge(fmt.Sprintf("ch_a%02d", i), "cus_A", i*10, 1000, "usd"))
		refunds = append(refunds, detailRefund(fmt.Sprintf("re_a%02d", i), fmt.Sprintf("ch_a%02d", i), i*10+5, 100, "usd"))
		invoices = append(invoices, detailInvoice(fmt.Sprintf("in_a%02d", i), "cus_A", i*10))
	}
	// Another customer's rows, newer than all of cus_A's.
	charges = append(charges, detailCharge("ch_b", "cus_B", 9999, 1, "usd"))
	refunds = append(refunds, detailRefund("re_b", "ch_b", 9999, 1, "usd"))
	invoices = append(invoices, detailInvoice("in_b", "cus_B", 9999))
	// A deleted draft of cus_A, the newest: a tombstone, not shown.
	gone := detailInvoice("in_gone", "cus_A", 5000)
	gone.Deleted = true
	invoices = append(invoices, gone)
	mustUpsert(t, st.UpsertCharges, charges...)
	mustUpsert(t, st.UpsertRefunds, refunds...)
	mustUpsert(t, st.UpsertInvoices, invoices...)

	d, err := st.CustomerDetail(ctx, "cus_A")
	if err != nil {
		t.Fatal(err)
	}
	if d.Customer.ID != "cus_A" || *d.Customer.Name != hostile || !json.Valid(d.Customer.Data) {
		t.Fatalf("customer %+v", d.Customer)
	}
	if len(d.Invoices) != 20 || len(d.Charges) != 20 || len(d.Refunds) != 20 {
		t.Fatalf("%d invoices, %d charges, %d refunds; want 20 each", len(d.Invoices), len(d.Charges), len(d.Refunds))
	}
	if !d.MoreInvoices || !d.MoreCharges || !d.MoreRefunds {
		t.Errorf("more flags %v %v %v", d.MoreInvoices, d.MoreCharges, d.MoreRefunds)
	}
	for i := range 20 {
		want := 24 - i
		if d.Invoices[i].ID != fmt.Sprintf("in_a%02d", want) || d.Charges[i].ID != fmt.Sprintf("ch_a%02d", want) ||
			d.Refunds[i].ID != fmt.Sprintf("re_a%02d", want) {
			t.Fatalf("row %d: %s %s %s, want number %02d", i, d.Invoices[i].ID, d.Charges[i].ID, d.Refunds[i].ID, want)
		}
	}

	// Few rows: no "more".
	mustUpsert(t, st.UpsertCustomers, customer("cus_C", 1, "small"))
	mustUpsert(t, st.UpsertCharges, detailCharge("ch_c", "cus_C", 1, 500, "jpy"))
	d, err = st.CustomerDetail(ctx, "cus_C")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Charges) != 1 || d.MoreCharges || len(d.Invoices) != 0 || len(d.Refunds) != 0 {
		t.Fatalf("cus_C: %+v", d)
	}

	if _, err := st.CustomerDetail(ctx, "cus_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing customer: %v", err)
	}
}

func invoiceEvent(id, invoice, typ, status string, created int64) store.Event {
	obj := "invoice"
	data := fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"created":%d,"data":{"object":{"id":%q,"object":"invoice","status":%q}}}`,
		id, typ, created, invoice, status)
	return store.Event{ID: id, Type: typ, Created: created, ObjectType: &obj, ObjectID: &invoice,
		Data: json.RawMessage(data), Source: store.SourceWebhook}
}

// The invoice page reads every line in position order, its events oldest
// first (same-second events in lifecycle order), and its charges.
func TestInvoiceDetail(t *testing.T) {
	st := storetest.New(t)
	big := int64(math.MaxInt32) + 10 // above 2^31
	inv := detailInvoice("in_1", "cus_A", 0)
	inv.Total, inv.AmountDue, inv.AmountPaid, inv.AmountRemaining = big*30, big*30, 1, big*30-1
	inv.LinesTotalCount = 30
	for i := range 30 {
		inv.Lines = append(inv.Lines, store.InvoiceLine{ID: fmt.Sprintf("il_%02d", 29-i), Position: i,
			Description: ptr(fmt.Sprintf("line %d", i)), Quantity: ptr(int64(i + 1)), UnitAmount: ptr(big),
			Amount: big * int64(i+1), Currency: "usd", Data: json.RawMessage(`{}`)})
	}
	mustUpsert(t, st.UpsertInvoices, inv, detailInvoice("in_2", "cus_A", 1))
	ch := detailCharge("ch_1", "cus_A", 5, 100, "usd")
	ch.Invoice = ptr("in_1")
	failed := detailCharge("ch_0", "cus_A", 3, 100, "usd")
	failed.Invoice, failed.Status, failed.Captured = ptr("in_1"), "failed", false
	mustUpsert(t, st.UpsertCharges, ch, failed, detailCharge("ch_other", "cus_A", 9, 1, "usd"))

	// Delivered out of order; paid and finalized in the same second.
	for _, e := range []store.Event{
		invoiceEvent("evt_c", "in_1", "invoice.paid", "paid", 1700000100),
		invoiceEvent("evt_a", "in_1", "invoice.created", "draft", 1700000000),
		invoiceEvent("evt_b", "in_1", "invoice.finalized", "open", 1700000100),
		invoiceEvent("evt_x", "in_2", "invoice.created", "draft", 1700000050),
	} {
		if _, err := st.EnqueueEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	obj := "customer"
	notInvoice := "in_1" // an event of another object type naming the same id is not history
	if _, err := st.EnqueueEvent(ctx, store.Event{ID: "evt_y", Type: "customer.updated", Created: 1, ObjectType: &obj,
		ObjectID: &notInvoice, Data: json.RawMessage(`{}`), Source: store.SourceWebhook}); err != nil {
		t.Fatal(err)
	}

	d, err := st.InvoiceDetail(ctx, "in_1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Invoice.Total != big*30 || d.Invoice.AmountRemaining != big*30-1 {
		t.Errorf("amounts %+v", d.Invoice)
	}
	if len(d.Invoice.Lines) != 30 {
		t.Fatalf("%d lines", len(d.Invoice.Lines))
	}
	for i, l := range d.Invoice.Lines {
		if l.Position != i || *l.Description != fmt.Sprintf("line %d", i) || l.Amount != big*int64(i+1) {
			t.Fatalf("line %d: %+v", i, l)
		}
	}
	var got []string
	for _, e := range d.History {
		got = append(got, e.ID+":"+e.Type+":"+*e.InvoiceStatus+":"+e.QueueStatus)
	}
	want := []string{"evt_a:invoice.created:draft:queued", "evt_b:invoice.finalized:open:queued", "evt_c:invoice.paid:paid:queued"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history %v, want %v", got, want)
	}
	if !d.History[0].Created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("history time %v", d.History[0].Created)
	}
	if len(d.Charges) != 2 || d.Charges[0].ID != "ch_1" || d.Charges[1].ID != "ch_0" || d.MoreCharges {
		t.Errorf("charges %+v", d.Charges)
	}

	if _, err := st.InvoiceDetail(ctx, "in_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing invoice: %v", err)
	}
}

func TestChargeDetail(t *testing.T) {
	st := storetest.New(t)
	mustUpsert(t, st.UpsertCustomers, customer("cus_A", 1, "Zoë 💸"))
	inv := detailInvoice("in_1", "cus_A", 0)
	inv.Number = ptr("INV-0001")
	mustUpsert(t, st.UpsertInvoices, inv)
	ch := detailCharge("ch_1", "cus_A", 0, 5000, "jpy")
	ch.Invoice, ch.AmountRefunded = ptr("in_1"), 1500
	ch.Data = json.RawMessage(`{"id":"ch_1","object":"charge","outcome":{"network_status":"approved_by_network",` +
		`"type":"authorized","seller_message":"Payment complete.","risk_level":"normal","risk_score":12}}`)
	orphan := detailCharge("ch_2", "cus_gone", 0, 1, "usd") // customer and invoice not mirrored
	orphan.Invoice = ptr("in_gone")
	mustUpsert(t, st.UpsertCharges, ch, orphan)
	mustUpsert(t, st.UpsertRefunds, detailRefund("re_1", "ch_1", 10, 1000, "jpy"), detailRefund("re_2", "ch_1", 20, 500, "jpy"))

	d, err := st.ChargeDetail(ctx, "ch_1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Charge.Amount != 5000 || d.Charge.AmountRefunded != 1500 || *d.CustomerName != "Zoë 💸" ||
		*d.CustomerEmail != "cus_A@example.com" || *d.InvoiceNumber != "INV-0001" {
		t.Errorf("charge %+v", d)
	}
	if d.Outcome == nil || *d.Outcome != (store.ChargeOutcome{NetworkStatus: "approved_by_network", Type: "authorized",
		SellerMessage: "Payment complete.", RiskLevel: "normal"}) {
		t.Errorf("outcome %+v", d.Outcome)
	}
	if len(d.Refunds) != 2 || d.Refunds[0].ID != "re_2" || d.Refunds[1].ID != "re_1" {
		t.Errorf("refunds %+v", d.Refunds)
	}
	if got := store.RefundableAmount(d.Charge); got != 3500 {
		t.Errorf("refundable %d", got)
	}

	d, err = st.ChargeDetail(ctx, "ch_2")
	if err != nil {
		t.Fatal(err)
	}
	if d.CustomerName != nil || d.InvoiceNumber != nil || d.Outcome != nil || len(d.Refunds) != 0 {
		t.Errorf("orphan charge %+v", d)
	}
	if _, err := st.ChargeDetail(ctx, "ch_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing charge: %v", err)
	}
}

func TestRefundDetail(t *testing.T) {
	st := storetest.New(t)
	mustUpsert(t, st.UpsertCustomers, customer("cus_A", 1, "Ada"))
	mustUpsert(t, st.UpsertCharges, detailCharge("ch_1", "cus_A", 0, 1234, "bhd"))
	re := detailRefund("re_1", "ch_1", 10, 235, "bhd")
	re.Reason, re.ReceiptNumber = ptr("requested_by_customer"), ptr("1234-5678")
	mustUpsert(t, st.UpsertRefunds, re, detailRefund("re_2", "ch_unknown", 10, 1, "usd"))

	d, err := st.RefundDetail(ctx, "re_1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Refund.Amount != 235 || *d.Refund.Reason != "requested_by_customer" || d.Charge == nil ||
		d.Charge.ID != "ch_1" || d.Charge.Amount != 1234 || d.Charge.Currency != "bhd" || *d.Charge.Customer != "cus_A" ||
		*d.CustomerName != "Ada" {
		t.Errorf("refund %+v charge %+v", d, d.Charge)
	}
	d, err = st.RefundDetail(ctx, "re_2")
	if err != nil {
		t.Fatal(err)
	}
	if d.Charge != nil || d.CustomerName != nil || *d.Refund.Charge != "ch_unknown" {
		t.Errorf("refund of an unmirrored charge %+v", d)
	}
	if _, err := st.RefundDetail(ctx, "re_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing refund: %v", err)
	}
}
