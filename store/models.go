package store

import (
	"encoding/json"
	"time"
)

// The row types below mirror Stripe objects. Typed fields are named after
// Stripe's fields; Data holds the whole object exactly as Stripe sent it.
// Money is int64 minor units beside its ISO currency code (lower case).
// Version orders states of one object: see the package doc.

// Customer is a row of the customers table.
type Customer struct {
	ID          string          `db:"id"`
	Livemode    bool            `db:"livemode"`
	Email       *string         `db:"email"`
	Name        *string         `db:"name"`
	Phone       *string         `db:"phone"`
	Description *string         `db:"description"`
	Currency    *string         `db:"currency"`
	Balance     int64           `db:"balance"`
	Delinquent  bool            `db:"delinquent"`
	Deleted     bool            `db:"deleted"`
	Created     time.Time       `db:"created"`
	Data        json.RawMessage `db:"data"`
	Version     int64           `db:"version"`
	SyncedAt    time.Time       `db:"synced_at"`
}

// Invoice is a row of the invoices table. Lines are written to
// invoice_lines with it and replace the lines stored before.
type Invoice struct {
	ID               string          `db:"id"`
	Livemode         bool            `db:"livemode"`
	Customer         *string         `db:"customer"`
	CustomerEmail    *string         `db:"customer_email"`
	CustomerName     *string         `db:"customer_name"`
	Number           *string         `db:"number"`
	Status           *string         `db:"status"`
	CollectionMethod *string         `db:"collection_method"`
	Currency         string          `db:"currency"`
	Subtotal         int64           `db:"subtotal"`
	Tax              *int64          `db:"tax"`
	Total            int64           `db:"total"`
	AmountDue        int64           `db:"amount_due"`
	AmountPaid       int64           `db:"amount_paid"`
	AmountRemaining  int64           `db:"amount_remaining"`
	DueDate          *time.Time      `db:"due_date"`
	Created          time.Time       `db:"created"`
	HostedInvoiceURL *string         `db:"hosted_invoice_url"`
	InvoicePDF       *string         `db:"invoice_pdf"`
	Charge           *string         `db:"charge"`
	PaymentIntent    *string         `db:"payment_intent"`
	LinesTotalCount  int64           `db:"lines_total_count"`
	Deleted          bool            `db:"deleted"`
	LinesHash        *string         `db:"lines_hash"`
	Data             json.RawMessage `db:"data"`
	Version          int64           `db:"version"`
	SyncedAt         time.Time       `db:"synced_at"`

	// Lines is every line of the invoice in Stripe's order. It is not a
	// column; UpsertInvoices writes it to invoice_lines.
	Lines []InvoiceLine `db:"-"`
	// LinesHasMore says Lines holds only the lines embedded in the object
	// and Stripe has more; they must be fetched before the row is whole.
	LinesHasMore bool `db:"-"`
}

// InvoiceLine is a row of the invoice_lines table.
type InvoiceLine struct {
	Invoice     string          `db:"invoice"`
	ID          string          `db:"id"`
	Position    int             `db:"position"`
	Type        *string         `db:"type"`
	Description *string         `db:"description"`
	Quantity    *int64          `db:"quantity"`
	UnitAmount  *int64          `db:"unit_amount"`
	Amount      int64           `db:"amount"`
	Currency    string          `db:"currency"`
	PeriodStart *time.Time      `db:"period_start"`
	PeriodEnd   *time.Time      `db:"period_end"`
	Data        json.RawMessage `db:"data"`
}

// Charge is a row of the charges table.
type Charge struct {
	ID             string          `db:"id"`
	Livemode       bool            `db:"livemode"`
	Customer       *string         `db:"customer"`
	Invoice        *string         `db:"invoice"`
	PaymentIntent  *string         `db:"payment_intent"`
	Amount         int64           `db:"amount"`
	AmountCaptured int64           `db:"amount_captured"`
	AmountRefunded int64           `db:"amount_refunded"`
	Currency       string          `db:"currency"`
	Status         string          `db:"status"`
	Paid           bool            `db:"paid"`
	Captured       bool            `db:"captured"`
	Refunded       bool            `db:"refunded"`
	Disputed       bool            `db:"disputed"`
	FailureCode    *string         `db:"failure_code"`
	FailureMessage *string         `db:"failure_message"`
	Description    *string         `db:"description"`
	ReceiptEmail   *string         `db:"receipt_email"`
	ReceiptNumber  *string         `db:"receipt_number"`
	BillingName    *string         `db:"billing_name"`
	CardBrand      *string         `db:"card_brand"`
	CardLast4      *string         `db:"card_last4"`
	Created        time.Time       `db:"created"`
	Data           json.RawMessage `db:"data"`
	Version        int64           `db:"version"`
	SyncedAt       time.Time       `db:"synced_at"`
}

// Refund is a row of the refunds table.
type Refund struct {
	ID            string          `db:"id"`
	Livemode      bool            `db:"livemode"`
	Charge        *string         `db:"charge"`
	PaymentIntent *string         `db:"payment_intent"`
	Amount        int64           `db:"amount"`
	Currency      string          `db:"currency"`
	Status        *string         `db:"status"`
	Reason        *string         `db:"reason"`
	ReceiptNumber *string         `db:"receipt_number"`
	FailureReason *string         `db:"failure_reason"`
	Created       time.Time       `db:"created"`
	Data          json.RawMessage `db:"data"`
	Version       int64           `db:"version"`
	SyncedAt      time.Time       `db:"synced_at"`
}
