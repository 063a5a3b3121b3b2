package stripeapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// 2^53+1 is the first integer a float64 cannot hold: decoding through a
// float would silently turn it into 2^53.
const (
	beyondFloat = 9_007_199_254_740_993
	fiveBillion = 500_000_000_000 // five billion dollars in cents, far above 2^31
	hostile     = "<script>alert(1)</script> 💸 \u202eevil\u202c"
)

// rawWith builds raw JSON by hand so hostile strings stay as literal UTF-8
// (json.Marshal would escape < and >).
func rawWith(prefix, s, suffix string) json.RawMessage {
	return json.RawMessage(prefix + `"` + s + `"` + suffix)
}

func TestCustomerRecord(t *testing.T) {
	raw := rawWith(`{"id":"cus_1","object":"customer","livemode":true,"created":1700000000,"balance":-`+"9007199254740993"+`,"delinquent":null,"email":"a@example.com","phone":null,"currency":"jpy","name":`, hostile, `,"description":"\u003cb\u003e"}`)
	row, err := CustomerRecord(raw, false, 42)
	if err != nil {
		t.Fatal(err)
	}
	if row.ID != "cus_1" || !row.Livemode || row.Balance != -beyondFloat || row.Delinquent || row.Deleted || row.Version != 42 {
		t.Errorf("row %+v", row)
	}
	if row.Name == nil || *row.Name != hostile {
		t.Errorf("name %q, want %q", deref(row.Name), hostile)
	}
	if row.Description == nil || *row.Description != "<b>" || row.Phone != nil || deref(row.Currency) != "jpy" {
		t.Errorf("description %q phone %v currency %q", deref(row.Description), row.Phone, deref(row.Currency))
	}
	if !row.Created.Equal(time.Unix(1700000000, 0)) || row.Created.Location() != time.UTC {
		t.Errorf("created %v", row.Created)
	}
	if !bytes.Equal(row.Data, raw) {
		t.Errorf("data changed:\n%s\n%s", row.Data, raw)
	}
	raw[2] = 'X' // Data is a copy, not a view of the caller's buffer
	if row.Data[2] != 'i' {
		t.Error("Data aliases the input")
	}
}

func TestDeletedCustomerRecord(t *testing.T) {
	raw := json.RawMessage(`{"id":"cus_9","object":"customer","deleted":true}`)
	row, err := CustomerRecord(raw, true, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !row.Deleted || !row.Livemode || !row.Created.Equal(time.Unix(0, 0)) || !bytes.Equal(row.Data, raw) {
		t.Errorf("row %+v", row)
	}
}

func TestInvoiceRecord(t *testing.T) {
	raw := rawWith(`{"id":"in_1","object":"invoice","livemode":false,"currency":"jpy","created":1700000000,
		"customer":{"id":"cus_1","object":"customer","name":"x"},"customer_email":null,"customer_name":`, hostile, `,
		"number":"ABC-0001","status":"open","collection_method":"send_invoice",
		"subtotal":9007199254740993,"tax":null,"total":9007199254740993,"amount_due":500000000000,"amount_paid":0,"amount_remaining":500000000000,
		"due_date":null,"hosted_invoice_url":"https://invoice.stripe.com/i/x","invoice_pdf":null,
		"charge":"ch_1","payment_intent":null,
		"lines":{"object":"list","has_more":true,"total_count":25,"url":"/v1/invoices/in_1/lines","data":[
			{"id":"il_1","object":"line_item","type":"invoiceitem","description":"💸 widget","amount":9007199254740993,"currency":"jpy",
			 "quantity":3,"price":{"id":"price_1","object":"price","unit_amount":500000000000},"period":{"start":1700000000,"end":1700086400}},
			{"id":"il_2","object":"line_item","type":"subscription","description":null,"amount":0,"currency":"jpy",
			 "quantity":null,"price":null,"period":null}
		]}}`)
	inv, err := InvoiceRecord(raw, true, 9)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Livemode || deref(inv.Customer) != "cus_1" || deref(inv.Charge) != "ch_1" || inv.PaymentIntent != nil || inv.Tax != nil || inv.DueDate != nil {
		t.Errorf("invoice %+v", inv)
	}
	if inv.Subtotal != beyondFloat || inv.Total != beyondFloat || inv.AmountDue != fiveBillion || inv.Currency != "jpy" || deref(inv.CustomerName) != hostile {
		t.Errorf("amounts %d %d %d, name %q", inv.Subtotal, inv.Total, inv.AmountDue, deref(inv.CustomerName))
	}
	if inv.LinesTotalCount != 25 || len(inv.Lines) != 2 || !bytes.Equal(inv.Data, raw) || inv.Version != 9 {
		t.Fatalf("lines total %d, %d lines", inv.LinesTotalCount, len(inv.Lines))
	}
	first, second := inv.Lines[0], inv.Lines[1]
	if first.Position != 0 || first.Invoice != "in_1" || first.Amount != beyondFloat || derefInt(first.UnitAmount) != fiveBillion || derefInt(first.Quantity) != 3 || deref(first.Description) != "💸 widget" {
		t.Errorf("first line %+v", first)
	}
	if first.PeriodStart == nil || first.PeriodEnd == nil || first.PeriodEnd.Sub(*first.PeriodStart) != 24*time.Hour {
		t.Errorf("period %v..%v", first.PeriodStart, first.PeriodEnd)
	}
	if second.Position != 1 || second.UnitAmount != nil || second.Quantity != nil || second.PeriodStart != nil || second.Description != nil {
		t.Errorf("second line %+v", second)
	}
	var lines struct {
		Lines struct {
			Data []json.RawMessage `json:"data"`
		} `json:"lines"`
	}
	if err := json.Unmarshal(raw, &lines); err != nil || !bytes.Equal(first.Data, lines.Lines.Data[0]) {
		t.Errorf("line data %s", first.Data)
	}
}

func TestInvoiceRecordCompleteLines(t *testing.T) {
	raw := json.RawMessage(`{"id":"in_2","object":"invoice","currency":"usd","created":1,"tax":120,"customer":"cus_1",
		"lines":{"object":"list","has_more":false,"data":[{"id":"il_1","object":"line_item","amount":1,"currency":"usd"}]}}`)
	inv, err := InvoiceRecord(raw, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	if inv.LinesTotalCount != 1 || derefInt(inv.Tax) != 120 || deref(inv.Customer) != "cus_1" {
		t.Errorf("invoice %+v", inv)
	}
}

func TestChargeRecord(t *testing.T) {
	raw := rawWith(`{"id":"ch_1","object":"charge","livemode":true,"amount":500000000000,"amount_captured":500000000000,"amount_refunded":9007199254740993,
		"currency":"jpy","status":"succeeded","paid":true,"captured":true,"refunded":false,"disputed":true,
		"customer":{"id":"cus_1","object":"customer"},"invoice":"in_1","payment_intent":{"id":"pi_1","object":"payment_intent"},
		"failure_code":null,"failure_message":null,"receipt_email":"a@example.com","receipt_number":"1234-5678","created":1700000000,
		"billing_details":{"name":"\u202eJenny 💸","email":null},
		"payment_method_details":{"type":"card","card":{"brand":"visa","last4":"4242"}},
		"description":`, hostile, `}`)
	ch, err := ChargeRecord(raw, false, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Livemode || ch.Amount != fiveBillion || ch.AmountCaptured != fiveBillion || ch.AmountRefunded != beyondFloat || ch.Currency != "jpy" {
		t.Errorf("amounts %+v", ch)
	}
	if deref(ch.Customer) != "cus_1" || deref(ch.Invoice) != "in_1" || deref(ch.PaymentIntent) != "pi_1" {
		t.Errorf("ids %q %q %q", deref(ch.Customer), deref(ch.Invoice), deref(ch.PaymentIntent))
	}
	if deref(ch.CardBrand) != "visa" || deref(ch.CardLast4) != "4242" || deref(ch.BillingName) != "\u202eJenny 💸" || deref(ch.Description) != hostile {
		t.Errorf("details %q %q %q %q", deref(ch.CardBrand), deref(ch.CardLast4), deref(ch.BillingName), deref(ch.Description))
	}
	if ch.Status != "succeeded" || !ch.Paid || !ch.Captured || ch.Refunded || !ch.Disputed || ch.FailureCode != nil || !bytes.Equal(ch.Data, raw) {
		t.Errorf("flags %+v", ch)
	}

	// A charge paid some other way has no card details.
	bank, err := ChargeRecord(json.RawMessage(`{"id":"ch_2","object":"charge","amount":1,"currency":"eur","status":"pending","created":1,"billing_details":null,"payment_method_details":{"type":"sepa_debit","sepa_debit":{}}}`), false, 1)
	if err != nil || bank.CardBrand != nil || bank.BillingName != nil || bank.Livemode {
		t.Errorf("bank charge %+v, %v", bank, err)
	}
}

func TestRefundRecord(t *testing.T) {
	raw := json.RawMessage(`{"id":"re_1","object":"refund","amount":9007199254740993,"currency":"jpy","charge":{"id":"ch_1","object":"charge"},
		"payment_intent":"pi_1","status":"succeeded","reason":"requested_by_customer","receipt_number":null,"created":1700000000}`)
	r, err := RefundRecord(raw, true, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Livemode || r.Amount != beyondFloat || deref(r.Charge) != "ch_1" || deref(r.PaymentIntent) != "pi_1" || deref(r.Reason) != "requested_by_customer" || r.FailureReason != nil || !bytes.Equal(r.Data, raw) {
		t.Errorf("refund %+v", r)
	}
}

func TestRecordsRejectBadInput(t *testing.T) {
	cases := map[string]func() error{
		"wrong object": func() error {
			_, err := ChargeRecord(json.RawMessage(`{"id":"cus_1","object":"customer"}`), false, 1)
			return err
		},
		"no id": func() error {
			_, err := RefundRecord(json.RawMessage(`{"object":"refund","amount":1}`), false, 1)
			return err
		},
		"fractional money": func() error {
			_, err := ChargeRecord(json.RawMessage(`{"id":"ch_1","object":"charge","amount":1.5}`), false, 1)
			return err
		},
		"money beyond int64": func() error {
			_, err := RefundRecord(json.RawMessage(`{"id":"re_1","amount":9223372036854775808}`), false, 1)
			return err
		},
		"bad line": func() error {
			_, err := InvoiceRecord(json.RawMessage(`{"id":"in_1","object":"invoice","lines":{"data":[{"object":"line_item"}]}}`), false, 1)
			return err
		},
		"not json": func() error {
			_, err := CustomerRecord(json.RawMessage(`{"id":"cus_1"`), false, 1)
			return err
		},
	}
	for name, f := range cases {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEventFromJSON(t *testing.T) {
	object := rawWith(`{"id":"ch_1","object":"charge","description":`, hostile, `}`)
	raw := json.RawMessage(`{"id":"evt_1","object":"event","type":"charge.refunded","api_version":"2023-10-16","created":1700000000,"livemode":true,"data":{"object":` + string(object) + `,"previous_attributes":{}}}`)
	ev, err := EventFromJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "evt_1" || ev.Type != "charge.refunded" || ev.APIVersion != APIVersion || ev.Created != 1700000000 || !ev.Livemode || ev.ObjectID != "ch_1" {
		t.Errorf("event %+v", ev)
	}
	if !bytes.Equal(ev.Object, object) || !bytes.Equal(ev.Raw, raw) {
		t.Errorf("object %s", ev.Object)
	}
	nullVersion, err := EventFromJSON(json.RawMessage(`{"id":"evt_2","object":"event","api_version":null,"data":{"object":{"id":"x"}}}`))
	if err != nil || nullVersion.APIVersion != "" {
		t.Errorf("null api_version: %+v %v", nullVersion, err)
	}
	if _, err := EventFromJSON(json.RawMessage(`{"id":"ch_1","object":"charge"}`)); err == nil {
		t.Error("a charge was taken for an event")
	}
}

func TestExpandableID(t *testing.T) {
	for raw, want := range map[string]string{`"cus_1"`: "cus_1", `{"id":"cus_2","object":"customer"}`: "cus_2", `null`: ""} {
		var id expandableID
		if err := json.Unmarshal([]byte(raw), &id); err != nil || string(id) != want {
			t.Errorf("%s: got %q, %v", raw, id, err)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func derefInt(n *int64) int64 {
	if n == nil {
		return -1
	}
	return *n
}
