package stripeapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// These tests run every endpoint method against stripe-mock in strict
// version mode: a request it accepts is valid for API 2023-10-16. It keeps
// no state, so they check the kind of object returned, not its contents.

func strp(s string) *string { return &s }

func checkObject(t *testing.T, what, gotObject, gotID, wantObject, idPrefix string) {
	t.Helper()
	if gotObject != wantObject || !strings.HasPrefix(gotID, idPrefix) {
		t.Errorf("%s: got %s %q, want a %s with id %s...", what, gotObject, gotID, wantObject, idPrefix)
	}
}

func TestCustomersAgainstStripeMock(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, mockURL)

	got, err := c.Customers.Get(ctx, "cus_123")
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Get", got.Object, got.ID, "customer", "cus_")
	if len(got.LastResponse.RawJSON) == 0 {
		t.Error("Get: raw body not kept")
	}

	p := CustomerParams{Name: strp("Ada <b>"), Email: strp("ada@example.com"), Phone: strp("+441234"), Description: strp(""), Metadata: map[string]string{"ref": "42"}}
	created, err := c.Customers.Create(ctx, "idem-create", p)
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Create", created.Object, created.ID, "customer", "cus_")

	updated, err := c.Customers.Update(ctx, "idem-update", "cus_123", CustomerParams{Email: strp("new@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Update", updated.Object, updated.ID, "customer", "cus_")

	deleted, err := c.Customers.Delete(ctx, "idem-delete", "cus_123")
	if err != nil {
		t.Fatal(err)
	}
	if !deleted.Deleted || deleted.ID != "cus_123" {
		t.Errorf("Delete: got %+v", deleted)
	}

	before := time.Now().Unix()
	page, err := c.Customers.List(ctx, ListParams{Limit: 3, CreatedGTE: 1, CreatedLT: 2_000_000_000, StartingAfter: "cus_0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) == 0 || page.LastID != page.Data[len(page.Data)-1].ID {
		t.Fatalf("List: %+v", page)
	}
	for _, row := range page.Data {
		if row.Version < before || row.Version > time.Now().Unix() || len(row.Data) == 0 || !strings.HasPrefix(row.ID, "cus_") {
			t.Errorf("List row: id %q version %d (before %d), %d bytes", row.ID, row.Version, before, len(row.Data))
		}
	}
	if s := c.Stats(); s.Calls != 5 || s.Requests != 5 || s.Retries != 0 {
		t.Errorf("stats %+v, want 5 calls, 5 requests, no retries", s)
	}
}

func TestInvoicesAgainstStripeMock(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, mockURL)
	due := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)

	type invoiceCall struct {
		name string
		call func() (*stripe.Invoice, error)
	}
	calls := []invoiceCall{
		{"Get", func() (*stripe.Invoice, error) { return c.Invoices.Get(ctx, "in_123") }},
		{"Create", func() (*stripe.Invoice, error) {
			return c.Invoices.Create(ctx, "k1", InvoiceCreate{
				Customer: "cus_123", Currency: "usd", CollectionMethod: "send_invoice",
				DaysUntilDue: 30, AutoAdvance: stripe.Bool(false), Description: "Order 42",
				Metadata: map[string]string{"order": "42"},
			})
		}},
		{"Create with due date", func() (*stripe.Invoice, error) {
			return c.Invoices.Create(ctx, "k2", InvoiceCreate{Customer: "cus_123", CollectionMethod: "send_invoice", DueDate: &due, PendingInvoiceItemsBehavior: "include"})
		}},
		{"Update", func() (*stripe.Invoice, error) {
			return c.Invoices.Update(ctx, "k3", "in_123", InvoiceUpdate{Description: strp("new"), DueDate: &due, Metadata: map[string]string{"a": ""}})
		}},
		{"Finalize", func() (*stripe.Invoice, error) { return c.Invoices.Finalize(ctx, "k4", "in_123") }},
		{"Send", func() (*stripe.Invoice, error) { return c.Invoices.Send(ctx, "k5", "in_123") }},
		{"Void", func() (*stripe.Invoice, error) { return c.Invoices.Void(ctx, "k6", "in_123") }},
		{"MarkUncollectible", func() (*stripe.Invoice, error) { return c.Invoices.MarkUncollectible(ctx, "k7", "in_123") }},
		{"Pay", func() (*stripe.Invoice, error) {
			return c.Invoices.Pay(ctx, "k8", "in_123", InvoicePay{PaidOutOfBand: true})
		}},
		{"Pay with card", func() (*stripe.Invoice, error) { return c.Invoices.Pay(ctx, "k9", "in_123", InvoicePay{}) }},
	}
	for _, tc := range calls {
		inv, err := tc.call()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		checkObject(t, tc.name, string(inv.Object), inv.ID, "invoice", "in_")
	}

	deleted, err := c.Invoices.Delete(ctx, "k10", "in_123")
	if err != nil || !deleted.Deleted {
		t.Errorf("Delete: %v %+v", err, deleted)
	}

	page, err := c.Invoices.List(ctx, ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) == 0 {
		t.Fatal("List: no invoices")
	}
	inv := page.Data[0]
	if inv.Version == 0 || len(inv.Lines) == 0 || inv.Lines[0].Position != 0 || inv.Lines[0].Invoice != inv.ID || inv.LinesTotalCount != int64(len(inv.Lines)) {
		t.Errorf("List invoice: version %d, %d lines, total %d", inv.Version, len(inv.Lines), inv.LinesTotalCount)
	}

	lines, err := c.Invoices.Lines(ctx, "in_123", ListParams{Limit: 100, StartingAfter: "il_1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines.Data) == 0 || lines.Data[0].Invoice != "in_123" || lines.LastID == "" {
		t.Errorf("Lines: %+v", lines)
	}
	if _, err := c.Invoices.Lines(ctx, "in_123", ListParams{CreatedGTE: 5}); err == nil {
		t.Error("Lines accepted a created filter Stripe rejects")
	}

	// stripe-mock's invoice never has more lines, so mark one as having
	// more: CompleteLines then pages /lines and appends.
	partial, err := InvoiceRecord([]byte(`{"id":"in_123","object":"invoice","currency":"usd","created":1,
		"lines":{"object":"list","has_more":true,"data":[{"id":"il_a","object":"line_item","amount":5,"currency":"usd"}]}}`), false, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Invoices.CompleteLines(ctx, &partial); err != nil {
		t.Fatal(err)
	}
	if len(partial.Lines) < 2 || partial.Lines[1].Position != 1 || partial.LinesTotalCount != int64(len(partial.Lines)) {
		t.Errorf("CompleteLines: %d lines, total %d", len(partial.Lines), partial.LinesTotalCount)
	}
}

func TestInvoiceItemsAgainstStripeMock(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, mockURL)
	item, err := c.InvoiceItems.Create(ctx, "k1", InvoiceItemCreate{
		Customer: "cus_123", Invoice: "in_123", Currency: "jpy", Description: "Widget",
		Quantity: 3, UnitAmount: 500_000_000_000, Metadata: map[string]string{"sku": "w"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Create", item.Object, item.ID, "invoiceitem", "ii_")
	deleted, err := c.InvoiceItems.Delete(ctx, "k2", "ii_123")
	if err != nil || !deleted.Deleted {
		t.Errorf("Delete: %v %+v", err, deleted)
	}
}

func TestChargesAgainstStripeMock(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, mockURL)
	ch, err := c.Charges.Get(ctx, "ch_123")
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Get", ch.Object, ch.ID, "charge", "ch_")
	page, err := c.Charges.List(ctx, ListParams{Limit: 10, CreatedGTE: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) == 0 || page.Data[0].Version == 0 || page.Data[0].CardLast4 == nil || len(page.Data[0].Data) == 0 {
		t.Errorf("List: %+v", page)
	}
}

func TestRefundsAgainstStripeMock(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, mockURL)
	got, err := c.Refunds.Get(ctx, "re_123")
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Get", got.Object, got.ID, "refund", "re_")
	created, err := c.Refunds.Create(ctx, "k1", RefundCreate{Charge: "ch_123", Amount: 250, Reason: "requested_by_customer", Metadata: map[string]string{"by": "support"}})
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Create", created.Object, created.ID, "refund", "re_")
	full, err := c.Refunds.Create(ctx, "k2", RefundCreate{Charge: "ch_123"})
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Create full", full.Object, full.ID, "refund", "re_")
	updated, err := c.Refunds.Update(ctx, "k3", "re_123", map[string]string{"note": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Update", updated.Object, updated.ID, "refund", "re_")
	canceled, err := c.Refunds.Cancel(ctx, "k4", "re_123")
	if err != nil {
		t.Fatal(err)
	}
	checkObject(t, "Cancel", canceled.Object, canceled.ID, "refund", "re_")
	page, err := c.Refunds.List(ctx, ListParams{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) == 0 || page.Data[0].Version == 0 || page.Data[0].Livemode || len(page.Data[0].Data) == 0 {
		t.Errorf("List: %+v", page)
	}
}

func TestEventsAgainstStripeMock(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, mockURL)
	ev, err := c.Events.Get(ctx, "evt_123")
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "evt_123" || ev.Type == "" || ev.ObjectID == "" || len(ev.Object) == 0 || len(ev.Raw) == 0 {
		t.Errorf("Get: %+v", ev)
	}
	page, err := c.Events.List(ctx, EventListParams{
		ListParams: ListParams{Limit: 50, CreatedGTE: 1},
		CreatedGT:  2,
		Types:      []string{"invoice.paid", "charge.refunded"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) == 0 || page.Data[0].ID == "" || page.LastID != page.Data[len(page.Data)-1].ID {
		t.Errorf("List: %+v", page)
	}
}

func TestEmptyIDRefusedBeforeRequest(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, mockURL)
	if _, err := c.Customers.Get(ctx, ""); err == nil {
		t.Error("Get with an empty id was sent")
	}
	if _, err := c.Refunds.Cancel(ctx, "k", " "); err == nil {
		t.Error("Cancel with a blank id was sent")
	}
	if s := c.Stats(); s.Requests != 0 || s.Calls != 0 {
		t.Errorf("stats %+v, want nothing sent", s)
	}
}
