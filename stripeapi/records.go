package stripeapi

import (
	"encoding/json"
	"fmt"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"paydesk/store"
)

// The functions below turn one raw Stripe object into a store row. They
// decode into small local structs rather than stripe-go's types so fields
// stripe-go does not know (or knows differently) cannot fail a sync, and
// money decodes straight into int64, never through float64. Data is a copy
// of the bytes as given, so the jsonb column is exactly what Stripe sent.
//
// version is the row's Version: for an API read, the Unix second at which
// the request was sent (see listPage); for an event, its created. SyncedAt
// is left for the store to set.

// CustomerRecord maps a customer, or a deleted customer's stub
// ({"id":..,"object":"customer","deleted":true}), to a row.
func CustomerRecord(raw json.RawMessage, livemode bool, version int64) (store.Customer, error) {
	var c struct {
		objectHead
		Email       *string `json:"email"`
		Name        *string `json:"name"`
		Phone       *string `json:"phone"`
		Description *string `json:"description"`
		Currency    *string `json:"currency"`
		Balance     int64   `json:"balance"`
		Delinquent  *bool   `json:"delinquent"`
		Deleted     bool    `json:"deleted"`
		Created     int64   `json:"created"`
	}
	if err := decode(raw, "customer", &c, &c.objectHead); err != nil {
		return store.Customer{}, err
	}
	return store.Customer{
		ID:          c.ID,
		Livemode:    c.livemode(livemode),
		Email:       c.Email,
		Name:        c.Name,
		Phone:       c.Phone,
		Description: c.Description,
		Currency:    c.Currency,
		Balance:     c.Balance,
		Delinquent:  c.Delinquent != nil && *c.Delinquent,
		Deleted:     c.Deleted,
		// A deleted stub has no created: it becomes the Unix epoch, which
		// the NOT NULL column accepts and no real customer has.
		Created: unixTime(c.Created),
		Data:    copyRaw(raw),
		Version: version,
	}, nil
}

// InvoiceRecord maps an invoice and the lines embedded in it (Stripe embeds
// the first page, usually 10) with positions 0..n-1. LinesTotalCount is the
// number of lines when the embedded list is complete; when it has more,
// LinesTotalCount is Stripe's total_count if sent, and the caller fetches
// the rest with Invoices.CompleteLines.
func InvoiceRecord(raw json.RawMessage, livemode bool, version int64) (store.Invoice, error) {
	var inv struct {
		objectHead
		Customer         expandableID `json:"customer"`
		CustomerEmail    *string      `json:"customer_email"`
		CustomerName     *string      `json:"customer_name"`
		Number           *string      `json:"number"`
		Status           *string      `json:"status"`
		CollectionMethod *string      `json:"collection_method"`
		Currency         string       `json:"currency"`
		Subtotal         int64        `json:"subtotal"`
		Tax              *int64       `json:"tax"`
		Total            int64        `json:"total"`
		AmountDue        int64        `json:"amount_due"`
		AmountPaid       int64        `json:"amount_paid"`
		AmountRemaining  int64        `json:"amount_remaining"`
		DueDate          *int64       `json:"due_date"`
		Created          int64        `json:"created"`
		HostedInvoiceURL *string      `json:"hosted_invoice_url"`
		InvoicePDF       *string      `json:"invoice_pdf"`
		Charge           expandableID `json:"charge"`
		PaymentIntent    expandableID `json:"payment_intent"`
		Lines            embeddedList `json:"lines"`
	}
	if err := decode(raw, "invoice", &inv, &inv.objectHead); err != nil {
		return store.Invoice{}, err
	}
	lines := make([]store.InvoiceLine, 0, len(inv.Lines.Data))
	for i, rawLine := range inv.Lines.Data {
		line, err := InvoiceLineRecord(inv.ID, i, rawLine)
		if err != nil {
			return store.Invoice{}, fmt.Errorf("invoice %s line %d: %w", inv.ID, i, err)
		}
		lines = append(lines, line)
	}
	total := int64(len(lines))
	if inv.Lines.HasMore && inv.Lines.TotalCount != nil && *inv.Lines.TotalCount > total {
		total = *inv.Lines.TotalCount
	}
	return store.Invoice{
		ID:               inv.ID,
		Livemode:         inv.livemode(livemode),
		Customer:         inv.Customer.ptr(),
		CustomerEmail:    inv.CustomerEmail,
		CustomerName:     inv.CustomerName,
		Number:           inv.Number,
		Status:           inv.Status,
		CollectionMethod: inv.CollectionMethod,
		Currency:         inv.Currency,
		Subtotal:         inv.Subtotal,
		Tax:              inv.Tax,
		Total:            inv.Total,
		AmountDue:        inv.AmountDue,
		AmountPaid:       inv.AmountPaid,
		AmountRemaining:  inv.AmountRemaining,
		DueDate:          unixTimePtr(inv.DueDate),
		Created:          unixTime(inv.Created),
		HostedInvoiceURL: inv.HostedInvoiceURL,
		InvoicePDF:       inv.InvoicePDF,
		Charge:           inv.Charge.ptr(),
		PaymentIntent:    inv.PaymentIntent.ptr(),
		LinesTotalCount:  total,
		LinesHasMore:     inv.Lines.HasMore,
		Data:             copyRaw(raw),
		Version:          version,
		Lines:            lines,
	}, nil
}

// InvoiceLineRecord maps one invoice line. invoiceID is passed in because a
// line's own "invoice" field is absent on some line types (and on draft
// lines may name another invoice).
func InvoiceLineRecord(invoiceID string, position int, raw json.RawMessage) (store.InvoiceLine, error) {
	var l struct {
		objectHead
		Type        *string  `json:"type"`
		Description *string  `json:"description"`
		Quantity    *int64   `json:"quantity"`
		Price       priceRef `json:"price"`
		Amount      int64    `json:"amount"`
		Currency    string   `json:"currency"`
		Period      *struct {
			Start *int64 `json:"start"`
			End   *int64 `json:"end"`
		} `json:"period"`
	}
	if err := decode(raw, "line_item", &l, &l.objectHead); err != nil {
		return store.InvoiceLine{}, err
	}
	line := store.InvoiceLine{
		Invoice:     invoiceID,
		ID:          l.ID,
		Position:    position,
		Type:        l.Type,
		Description: l.Description,
		Quantity:    l.Quantity,
		UnitAmount:  l.Price.UnitAmount,
		Amount:      l.Amount,
		Currency:    l.Currency,
		Data:        copyRaw(raw),
	}
	if l.Period != nil {
		line.PeriodStart = unixTimePtr(l.Period.Start)
		line.PeriodEnd = unixTimePtr(l.Period.End)
	}
	return line, nil
}

// ChargeRecord maps a charge. Card brand and last4 come from
// payment_method_details.card, the billing name from billing_details.
func ChargeRecord(raw json.RawMessage, livemode bool, version int64) (store.Charge, error) {
	var ch struct {
		objectHead
		Customer       expandableID `json:"customer"`
		Invoice        expandableID `json:"invoice"`
		PaymentIntent  expandableID `json:"payment_intent"`
		Amount         int64        `json:"amount"`
		AmountCaptured int64        `json:"amount_captured"`
		AmountRefunded int64        `json:"amount_refunded"`
		Currency       string       `json:"currency"`
		Status         string       `json:"status"`
		Paid           bool         `json:"paid"`
		Captured       bool         `json:"captured"`
		Refunded       bool         `json:"refunded"`
		Disputed       bool         `json:"disputed"`
		FailureCode    *string      `json:"failure_code"`
		FailureMessage *string      `json:"failure_message"`
		Description    *string      `json:"description"`
		ReceiptEmail   *string      `json:"receipt_email"`
		ReceiptNumber  *string      `json:"receipt_number"`
		Created        int64        `json:"created"`
		BillingDetails *struct {
			Name *string `json:"name"`
		} `json:"billing_details"`
		PaymentMethodDetails *struct {
			Card *struct {
				Brand *string `json:"brand"`
				Last4 *string `json:"last4"`
			} `json:"card"`
		} `json:"payment_method_details"`
	}
	if err := decode(raw, "charge", &ch, &ch.objectHead); err != nil {
		return store.Charge{}, err
	}
	row := store.Charge{
		ID:             ch.ID,
		Livemode:       ch.livemode(livemode),
		Customer:       ch.Customer.ptr(),
		Invoice:        ch.Invoice.ptr(),
		PaymentIntent:  ch.PaymentIntent.ptr(),
		Amount:         ch.Amount,
		AmountCaptured: ch.AmountCaptured,
		AmountRefunded: ch.AmountRefunded,
		Currency:       ch.Currency,
		Status:         ch.Status,
		Paid:           ch.Paid,
		Captured:       ch.Captured,
		Refunded:       ch.Refunded,
		Disputed:       ch.Disputed,
		FailureCode:    ch.FailureCode,
		FailureMessage: ch.FailureMessage,
		Description:    ch.Description,
		ReceiptEmail:   ch.ReceiptEmail,
		ReceiptNumber:  ch.ReceiptNumber,
		Created:        unixTime(ch.Created),
		Data:           copyRaw(raw),
		Version:        version,
	}
	if ch.BillingDetails != nil {
		row.BillingName = ch.BillingDetails.Name
	}
	if d := ch.PaymentMethodDetails; d != nil && d.Card != nil {
		row.CardBrand = d.Card.Brand
		row.CardLast4 = d.Card.Last4
	}
	return row, nil
}

// RefundRecord maps a refund. Refunds carry no livemode field, so livemode
// (the mode of the key that read it) is used unless one is present.
func RefundRecord(raw json.RawMessage, livemode bool, version int64) (store.Refund, error) {
	var r struct {
		objectHead
		Charge        expandableID `json:"charge"`
		PaymentIntent expandableID `json:"payment_intent"`
		Amount        int64        `json:"amount"`
		Currency      string       `json:"currency"`
		Status        *string      `json:"status"`
		Reason        *string      `json:"reason"`
		ReceiptNumber *string      `json:"receipt_number"`
		FailureReason *string      `json:"failure_reason"`
		Created       int64        `json:"created"`
	}
	if err := decode(raw, "refund", &r, &r.objectHead); err != nil {
		return store.Refund{}, err
	}
	return store.Refund{
		ID:            r.ID,
		Livemode:      r.livemode(livemode),
		Charge:        r.Charge.ptr(),
		PaymentIntent: r.PaymentIntent.ptr(),
		Amount:        r.Amount,
		Currency:      r.Currency,
		Status:        r.Status,
		Reason:        r.Reason,
		ReceiptNumber: r.ReceiptNumber,
		FailureReason: r.FailureReason,
		Created:       unixTime(r.Created),
		Data:          copyRaw(raw),
		Version:       version,
	}, nil
}

// objectHead is what every Stripe object starts with.
type objectHead struct {
	ID       string `json:"id"`
	Object   string `json:"object"`
	Livemode *bool  `json:"livemode"`
}

// livemode is the object's own flag when it has one.
func (h objectHead) livemode(fallback bool) bool {
	if h.Livemode != nil {
		return *h.Livemode
	}
	return fallback
}

// decode unmarshals raw into v and checks that it is an object of kind want
// with an id, so a payload of the wrong type is an error, not a blank row.
func decode(raw json.RawMessage, want string, v any, head *objectHead) error {
	if err := unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s: %w", want, err)
	}
	if head.ID == "" {
		return fmt.Errorf("decode %s: no id", want)
	}
	if head.Object != "" && head.Object != want {
		return fmt.Errorf("decode %s %s: object is %q", want, head.ID, head.Object)
	}
	return nil
}

// unmarshal decodes with the single-pass decoder of
// go-json-experiment/json: a Stripe invoice in half the time of
// encoding/json, a charge in a third (BenchmarkRecords), which the event
// worker pays for every event it applies. Like encoding/json it keeps the
// last of duplicate names and replaces invalid UTF-8; unlike it, a name
// matches a field only exactly, as Stripe writes them.
var unmarshal = decodeFast

func decodeFast(raw []byte, v any) error {
	return jsonv2.Unmarshal(raw, v, decodeOptions)
}

var decodeOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// embeddedList is a list embedded in an object, e.g. invoice.lines.
type embeddedList struct {
	Data       []json.RawMessage `json:"data"`
	HasMore    bool              `json:"has_more"`
	TotalCount *int64            `json:"total_count"`
}

// expandableID is a field Stripe sends as an id string or, when expanded,
// as the object itself.
type expandableID string

func (e *expandableID) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*e = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		err := unmarshal(b, &s)
		*e = expandableID(s)
		return err
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := unmarshal(b, &obj); err != nil {
		return err
	}
	*e = expandableID(obj.ID)
	return nil
}

func (e expandableID) ptr() *string {
	if e == "" {
		return nil
	}
	s := string(e)
	return &s
}

// priceRef is a line's price: an object (whose unit_amount is nullable for
// tiered prices), an unexpanded id, or null.
type priceRef struct {
	UnitAmount *int64
}

func (p *priceRef) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		*p = priceRef{}
		return nil
	}
	var price struct {
		UnitAmount *int64 `json:"unit_amount"`
	}
	if err := unmarshal(b, &price); err != nil {
		return err
	}
	p.UnitAmount = price.UnitAmount
	return nil
}

func unixTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func unixTimePtr(sec *int64) *time.Time {
	if sec == nil {
		return nil
	}
	t := unixTime(*sec)
	return &t
}

func copyRaw(raw json.RawMessage) json.RawMessage {
	return append(json.RawMessage(nil), raw...)
}
