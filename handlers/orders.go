package handlers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"paydesk/store"
	"paydesk/stripeapi"
)

// The purchase intake, POST /api/v1/orders (the seed's "invoice on
// e-commerce purchase"): a shop holding an API token sends one purchase;
// paydesk finds the customer by email in the mirror (or creates it on
// Stripe), makes the invoice with its items, finalizes, sends or charges
// it as asked, writes Stripe's answers through and answers with the
// invoice. The order id is the idempotency anchor: the orders row is
// claimed before Stripe is called and every Stripe request's key derives
// from it, so retries and concurrent duplicates make one invoice.

// orderStore keeps the orders of the intake (store/orders.go).
type orderStore interface {
	ClaimOrder(ctx context.Context, orderID string, tokenID int64, requestHash []byte) (store.Order, bool, error)
	OrderByID(ctx context.Context, orderID string) (store.Order, error)
	CustomerByEmail(ctx context.Context, email string, livemode bool) (store.Customer, error)
}

const (
	orderAction = "order.invoice"
	// maxOrderBody bounds a purchase's JSON.
	maxOrderBody       = 256 << 10
	maxOrderID         = 100
	maxOrderItems      = 100
	maxItemDescription = 5000
	maxItemQuantity    = 1_000_000
	// maxOrderAmount is Stripe's largest amount (8 digits of minor units),
	// for one item's unit amount and for the invoice's total.
	maxOrderAmount       = 99_999_999
	defaultDaysUntilDue  = 30
	maxOrderDaysUntilDue = 365
)

// Collection modes of an order.
const (
	collectDraft    = "draft"
	collectFinalize = "finalize"
	collectSend     = "send"
	collectCharge   = "charge"
)

var orderIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:#/-]*$`)
var currencyPattern = regexp.MustCompile(`^[a-z]{3}$`)

// orderRequest is a purchase as sent. The customer and the items are
// decoded on their own, so an error names the item it is in.
type orderRequest struct {
	OrderID      string            `json:"order_id"`
	Customer     json.RawMessage   `json:"customer"`
	Items        []json.RawMessage `json:"items"`
	Currency     string            `json:"currency"`
	Collection   string            `json:"collection"`
	DaysUntilDue *int64            `json:"days_until_due"`
}

type orderCustomerJSON struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

type orderItemJSON struct {
	Description string `json:"description"`
	Quantity    *int64 `json:"quantity"`
	UnitAmount  *int64 `json:"unit_amount"`
}

// order is a checked purchase, normalized (trimmed, lower-case currency
// and email); its JSON is what the request hash covers, so a retry that
// differs only in spacing or key order is the same order.
type order struct {
	OrderID      string      `json:"order_id"`
	Email        string      `json:"email"`
	Name         string      `json:"name"`
	Items        []orderItem `json:"items"`
	Currency     string      `json:"currency"`
	Collection   string      `json:"collection"`
	DaysUntilDue int64       `json:"days_until_due"`
}

type orderItem struct {
	Description string `json:"description"`
	Quantity    int64  `json:"quantity"`
	UnitAmount  int64  `json:"unit_amount"`
}

func (o order) total() int64 {
	var t int64
	for _, it := range o.Items {
		t += it.Quantity * it.UnitAmount
	}
	return t
}

// orderAnswer is the intake's answer, stored with the order and repeated
// to every retry.
type orderAnswer struct {
	OrderID          string `json:"order_id"`
	InvoiceID        string `json:"invoice_id"`
	Status           string `json:"status"`
	HostedInvoiceURL string `json:"hosted_invoice_url,omitempty"`
	CustomerID       string `json:"customer_id"`
	CustomerCreated  bool   `json:"customer_created"`
	Total            int64  `json:"total"`
	Currency         string `json:"currency"`
	Collection       string `json:"collection"`
	// PaymentError is Stripe's refusal of the charge (collection
	// "charge"): the invoice is open and Stripe retries it.
	PaymentError string `json:"payment_error,omitempty"`
}

// createOrder takes a purchase (POST /api/v1/orders).
func (s *Server) createOrder(w http.ResponseWriter, r *http.Request) {
	token, ok := apiTokenOf(r)
	if !ok {
		s.problem(w, r, problem{Status: http.StatusUnauthorized, Title: "API token required"})
		return
	}
	if s.invoicer == nil || s.customers == nil || s.orders == nil {
		s.problem(w, r, problem{Status: http.StatusServiceUnavailable, Title: "Intake unavailable",
			Detail: "paydesk has no Stripe key configured, so it cannot make invoices."})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.problem(w, r, problem{Status: http.StatusUnsupportedMediaType, Title: "JSON expected",
			Detail: "Send the order as Content-Type: application/json."})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOrderBody))
	if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
		s.problem(w, r, problem{Status: http.StatusRequestEntityTooLarge, Title: "Body too large",
			Detail: "An order is at most " + strconv.Itoa(maxOrderBody>>10) + " KiB of JSON."})
		return
	} else if err != nil {
		s.problem(w, r, problem{Status: http.StatusBadRequest, Title: "Unreadable body", Detail: "The body could not be read."})
		return
	}
	o, p := parseOrder(body)
	if p != nil {
		s.problem(w, r, *p)
		return
	}
	canonical, _ := json.Marshal(o)
	hash := sha256.Sum256(canonical)

	claimed, isNew, err := s.orders.ClaimOrder(r.Context(), o.OrderID, token.ID, hash[:])
	switch {
	case errors.Is(err, store.ErrOrderConflict):
		s.problem(w, r, problem{Status: http.StatusConflict, Type: "urn:paydesk:problem:order-id-reused",
			Title: "Order id already used", Detail: "The order id " + strconv.Quote(o.OrderID) +
				" was sent before with another body. An order id names one purchase: send the same body to retry, or use a new order id.",
			Errors: []problemField{{Field: "order_id", Detail: "used before for a different order"}}})
		return
	case err != nil:
		s.internalProblem(w, r, "cannot claim an order", err)
		return
	case !isNew:
		s.answerPriorOrder(w, r, claimed)
		return
	}
	s.runOrder(w, r, token, o)
}

// answerPriorOrder answers a retry or duplicate of an order claimed
// before: the first answer once it is there (waiting up to pendingWait
// for it), else 409 while it is in flight.
func (s *Server) answerPriorOrder(w http.ResponseWriter, r *http.Request, o store.Order) {
	deadline := time.Now().Add(pendingWait)
	for o.Status == store.ActionPending && time.Now().Before(deadline) {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		next, err := s.orders.OrderByID(r.Context(), o.OrderID)
		if err != nil {
			s.internalProblem(w, r, "cannot read an order", err)
			return
		}
		o = next
	}
	switch o.Status {
	case store.ActionDone:
		h := w.Header()
		h["Content-Type"] = jsonType
		h.Set("Idempotent-Replayed", "true")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(o.Response)
	case store.ActionPending:
		w.Header().Set("Retry-After", "5")
		s.problem(w, r, problem{Status: http.StatusConflict, Type: "urn:paydesk:problem:order-in-progress",
			Title: "Order in progress", Detail: "This order is being invoiced by an earlier request. Send it again in a few seconds for its answer."})
	default:
		s.problem(w, r, problem{Status: http.StatusConflict, Type: "urn:paydesk:problem:order-failed",
			Title: "Order failed", Detail: "An earlier request of this order failed: " + deref(o.Error) +
				" Sending the same order again retries it safely."})
	}
}

// orderOutcome is what Stripe made of an order.
type orderOutcome struct {
	customer        store.Customer
	customerCreated bool
	invoice         store.Invoice
	requestID       string
	paymentError    string
}

// runOrder makes the order's Stripe calls and records the outcome with one
// audit row, like runStripeAction does for forms; the actor is the token.
func (s *Server) runOrder(w http.ResponseWriter, r *http.Request, token store.APIToken, o order) {
	// Stripe's answers must be recorded even if the shop hangs up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), stripeCallTimeout)
	defer cancel()
	key := "paydesk-order-" + o.OrderID
	params := map[string]any{"order_id": o.OrderID, "token_id": token.ID, "collection": o.Collection, "currency": o.Currency,
		"total": o.total(), "items": len(o.Items), "email": o.Email, "idempotency_key": key}
	entry := store.AuditEntry{Actor: token.Name, Action: orderAction, Target: "order:" + o.OrderID, Params: params,
		RemoteAddr: remoteHost(r)}
	out, err := s.invoiceOrder(ctx, key, o)
	if err != nil {
		msg, status := stripeRefusal(err, nil)
		var se *stripeapi.Error
		if errors.As(err, &se) {
			entry.StripeRequestID = se.RequestID
		}
		entry.Outcome, params["error"] = store.AuditFailed, msg
		if txErr := s.staff.InTx(ctx, func(tx *store.Store) error {
			if err := tx.FinishOrder(ctx, o.OrderID, store.OrderOutcome{Status: store.ActionFailed, Error: msg}); err != nil {
				return err
			}
			return tx.RecordAudit(ctx, entry)
		}); txErr != nil {
			s.internalProblem(w, r, "cannot record a failed order", txErr)
			return
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "Stripe refused an order", slog.String("order_id", o.OrderID),
			slog.String("stripe_request_id", entry.StripeRequestID), slog.Any("err", err))
		s.problem(w, r, problem{Status: status, Type: "urn:paydesk:problem:stripe-refused", Title: "Stripe refused the order",
			Detail: msg})
		return
	}
	answer := orderAnswer{OrderID: o.OrderID, InvoiceID: out.invoice.ID, Status: deref(out.invoice.Status),
		HostedInvoiceURL: deref(out.invoice.HostedInvoiceURL), CustomerID: out.customer.ID,
		CustomerCreated: out.customerCreated, Total: out.invoice.Total, Currency: out.invoice.Currency,
		Collection: o.Collection, PaymentError: out.paymentError}
	response, _ := json.Marshal(answer)
	params["invoice"], params["customer"], params["customer_created"] = answer.InvoiceID, answer.CustomerID, answer.CustomerCreated
	params["status"] = answer.Status
	if out.paymentError != "" {
		params["payment_error"] = out.paymentError
	}
	entry.Outcome, entry.StripeRequestID = store.AuditOK, out.requestID
	err = s.staff.InTx(ctx, func(tx *store.Store) error {
		if out.customerCreated {
			if err := tx.WriteThroughCustomer(ctx, out.customer); err != nil {
				return err
			}
		}
		if err := tx.WriteThroughInvoice(ctx, out.invoice); err != nil {
			return err
		}
		if err := tx.FinishOrder(ctx, o.OrderID, store.OrderOutcome{Status: store.ActionDone, InvoiceID: answer.InvoiceID,
			CustomerID: answer.CustomerID, Response: response}); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, entry)
	})
	if err != nil {
		// Stripe acted; the order stays pending, and the same order sent
		// again after store.ActionStale replays Stripe's answers.
		s.logError(r, "an order's invoice was made but could not be recorded", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(store.ActionStale.Seconds())))
		s.problem(w, r, problem{Status: http.StatusInternalServerError, Type: "urn:paydesk:problem:unrecorded",
			Title: "Invoice made but not recorded", Detail: "Stripe made invoice " + answer.InvoiceID +
				" but paydesk could not record it. Send the same order again in a few minutes: it will not make a second invoice."})
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonType
	h.Set("Location", objectURL("invoices", answer.InvoiceID))
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(response)
}

// invoiceOrder makes the order's customer (when the mirror has none with
// its email) and invoice on Stripe, each request under a key derived from
// the order's, then finalizes, sends or charges it.
func (s *Server) invoiceOrder(ctx context.Context, key string, o order) (orderOutcome, error) {
	var out orderOutcome
	c, err := s.orders.CustomerByEmail(ctx, o.Email, s.live)
	switch {
	case err == nil:
		out.customer = c
	case errors.Is(err, store.ErrNotFound):
		p := stripeapi.CustomerParams{Email: &o.Email, Metadata: map[string]string{"paydesk_order_id": o.OrderID}}
		if o.Name != "" {
			p.Name = &o.Name
		}
		out.customer, out.requestID, err = s.customers.CreateRecord(ctx, key+"-customer", p)
		if err != nil {
			return out, err
		}
		out.customerCreated = true
	default:
		return out, fmt.Errorf("find the customer: %w", err)
	}

	create := stripeapi.InvoiceCreate{Customer: out.customer.ID, Currency: o.Currency,
		Metadata: map[string]string{"paydesk_order_id": o.OrderID}, AutoAdvance: new(false)}
	if o.Collection == collectCharge {
		// Stripe retries a declined charge on its own schedule.
		create.CollectionMethod, create.AutoAdvance = "charge_automatically", new(true)
	} else {
		create.CollectionMethod, create.DaysUntilDue = "send_invoice", o.DaysUntilDue
	}
	items := make([]stripeapi.InvoiceItemCreate, len(o.Items))
	for i, it := range o.Items {
		items[i] = stripeapi.InvoiceItemCreate{Description: it.Description, Quantity: it.Quantity, UnitAmount: it.UnitAmount}
	}
	inv, requestID, err := s.invoicer.CreateDraftRecord(ctx, key, create, items)
	if err != nil {
		return out, err
	}
	out.invoice, out.requestID = inv, requestID
	if o.Collection == collectDraft {
		return out, nil
	}
	if out.invoice, out.requestID, err = s.invoicer.ActRecord(ctx, key+"-finalize", inv.ID, stripeapi.InvoiceFinalize,
		stripeapi.InvoicePay{}); err != nil {
		return out, err
	}
	switch o.Collection {
	case collectSend:
		if out.invoice, out.requestID, err = s.invoicer.ActRecord(ctx, key+"-send", inv.ID, stripeapi.InvoiceSend,
			stripeapi.InvoicePay{}); err != nil {
			return out, err
		}
	case collectCharge:
		paid, requestID, err := s.invoicer.ActRecord(ctx, key+"-pay", inv.ID, stripeapi.InvoicePayNow, stripeapi.InvoicePay{})
		var se *stripeapi.Error
		switch {
		case err == nil:
			out.invoice, out.requestID = paid, requestID
		case errors.As(err, &se) && se.Type == "card_error":
			// The invoice stands, open; the shop learns the card was
			// declined and Stripe retries.
			out.paymentError = se.Message
		default:
			return out, err
		}
	}
	return out, nil
}

// parseOrder reads and checks a purchase. Malformed JSON is a 400; a
// well-formed order with wrong values a 422 naming every field at fault.
func parseOrder(body []byte) (order, *problem) {
	var req orderRequest
	if fe := decodeStrict(body, &req, ""); fe != nil {
		return order{}, badJSON(*fe)
	}
	var errs []problemField
	add := func(field, detail string) { errs = append(errs, problemField{Field: field, Detail: detail}) }
	o := order{OrderID: strings.TrimSpace(req.OrderID), Currency: strings.ToLower(strings.TrimSpace(req.Currency)),
		Collection: strings.TrimSpace(req.Collection)}
	switch {
	case o.OrderID == "":
		add("order_id", "required: the shop's id of the purchase")
	case len(o.OrderID) > maxOrderID:
		add("order_id", "at most "+strconv.Itoa(maxOrderID)+" characters")
	case !orderIDPattern.MatchString(o.OrderID):
		add("order_id", "letters, digits and . _ : # / - only, starting with a letter or digit")
	}
	if len(bytes.TrimSpace(req.Customer)) == 0 || string(bytes.TrimSpace(req.Customer)) == "null" {
		add("customer", "required: an object with the customer's email (and name)")
	} else {
		var c orderCustomerJSON
		if fe := decodeStrict(req.Customer, &c, "customer"); fe != nil {
			return order{}, badJSON(*fe)
		}
		o.Email, o.Name = strings.ToLower(strings.TrimSpace(c.Email)), strings.TrimSpace(c.Name)
		if addr, err := mail.ParseAddress(o.Email); o.Email == "" {
			add("customer.email", "required")
		} else if err != nil || addr.Address != o.Email || !strings.Contains(o.Email, "@") || len(o.Email) > maxCustomerEmail {
			add("customer.email", "not an email address like name@example.com")
		}
		if utf8.RuneCountInString(o.Name) > maxCustomerName || !utf8.ValidString(o.Name) || strings.ContainsRune(o.Name, 0) {
			add("customer.name", "at most "+strconv.Itoa(maxCustomerName)+" characters of text")
		}
	}
	switch {
	case len(req.Items) == 0:
		add("items", "required: at least one item")
	case len(req.Items) > maxOrderItems:
		add("items", "at most "+strconv.Itoa(maxOrderItems)+" items")
	}
	for i, raw := range req.Items {
		if len(req.Items) > maxOrderItems {
			break
		}
		path := "items[" + strconv.Itoa(i) + "]"
		var it orderItemJSON
		if string(bytes.TrimSpace(raw)) == "null" {
			add(path, "must be an object")
			continue
		}
		if fe := decodeStrict(raw, &it, path); fe != nil {
			return order{}, badJSON(*fe)
		}
		item := orderItem{Description: strings.TrimSpace(it.Description)}
		switch {
		case item.Description == "":
			add(path+".description", "required")
		case utf8.RuneCountInString(item.Description) > maxItemDescription || !utf8.ValidString(item.Description) ||
			strings.ContainsRune(item.Description, 0):
			add(path+".description", "at most "+strconv.Itoa(maxItemDescription)+" characters of text")
		}
		switch {
		case it.Quantity == nil:
			add(path+".quantity", "required: a whole number of at least 1")
		case *it.Quantity < 1 || *it.Quantity > maxItemQuantity:
			add(path+".quantity", "must be a whole number from 1 to "+strconv.Itoa(maxItemQuantity))
		default:
			item.Quantity = *it.Quantity
		}
		switch {
		case it.UnitAmount == nil:
			add(path+".unit_amount", "required: the price of one unit in the currency's minor units (cents)")
		case *it.UnitAmount < 0 || *it.UnitAmount > maxOrderAmount:
			add(path+".unit_amount", "must be from 0 to "+strconv.Itoa(maxOrderAmount)+" minor units")
		default:
			item.UnitAmount = *it.UnitAmount
		}
		o.Items = append(o.Items, item)
	}
	if len(errs) == 0 && o.total() > maxOrderAmount {
		add("items", "the order's total is above what Stripe accepts ("+strconv.Itoa(maxOrderAmount)+" minor units)")
	}
	switch {
	case o.Currency == "":
		add("currency", "required: a three-letter ISO code such as usd")
	case !currencyPattern.MatchString(o.Currency):
		add("currency", "a three-letter ISO code such as usd")
	}
	switch o.Collection {
	case collectDraft, collectFinalize, collectSend:
		o.DaysUntilDue = defaultDaysUntilDue
		if req.DaysUntilDue != nil {
			if d := *req.DaysUntilDue; d < 1 || d > maxOrderDaysUntilDue {
				add("days_until_due", "must be from 1 to "+strconv.Itoa(maxOrderDaysUntilDue))
			} else {
				o.DaysUntilDue = d
			}
		}
	case collectCharge:
		if req.DaysUntilDue != nil {
			add("days_until_due", "applies to invoices sent to the customer, not to collection \"charge\"")
		}
	case "":
		add("collection", `required: "draft", "finalize", "send" or "charge"`)
	default:
		add("collection", `must be "draft", "finalize", "send" or "charge"`)
	}
	if len(errs) > 0 {
		return order{}, &problem{Status: http.StatusUnprocessableEntity, Type: "urn:paydesk:problem:invalid-order",
			Title: "Invalid order", Detail: "The order has " + strconv.Itoa(len(errs)) + " invalid field(s); see errors.", Errors: errs}
	}
	return o, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data; an error names the field at fault under path.
func decodeStrict(data []byte, v any, path string) *problemField {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	join := func(field string) string {
		switch {
		case path == "":
			return field
		case field == "":
			return path
		}
		return path + "." + field
	}
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return &problemField{Field: path, Detail: "unexpected data after the JSON value"}
		}
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return &problemField{Field: join(typeErr.Field), Detail: "must be " + jsonKind(typeErr.Type.String()) + ", not " + typeErr.Value}
	case errors.As(err, &syntaxErr):
		return &problemField{Field: path, Detail: "not valid JSON (at byte " + strconv.FormatInt(syntaxErr.Offset, 10) + ")"}
	case errors.Is(err, io.EOF):
		return &problemField{Field: path, Detail: "empty: a JSON object is expected"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return &problemField{Field: join(name), Detail: "unknown field"}
	}
	return &problemField{Field: path, Detail: "not valid JSON"}
}

func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "int64", "*int64":
		return "a whole number"
	case "[]json.RawMessage":
		return "an array"
	case "json.RawMessage":
		return "an object"
	}
	return "an object"
}

func badJSON(fe problemField) *problem {
	return &problem{Status: http.StatusBadRequest, Type: "urn:paydesk:problem:malformed-json", Title: "Malformed JSON",
		Detail: "The body is not the JSON object an order is: " + strings.TrimSpace(fe.Field+" "+fe.Detail) + ".",
		Errors: []problemField{fe}}
}

// problem is an RFC 9457 problem detail, the body of every error of
// /api/v1.
type problem struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail,omitempty"`
	Errors []problemField `json:"errors,omitempty"`
}

// problemField names one field at fault, as a path into the body
// ("items[2].quantity").
type problemField struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

var problemType = []string{"application/problem+json"}

// problem answers with p as application/problem+json.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, p problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	body, _ := json.Marshal(p)
	h := w.Header()
	h["Content-Type"] = problemType
	h["Cache-Control"] = noStoreCache
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

func (s *Server) internalProblem(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.logError(r, what, err)
	s.problem(w, r, problem{Status: http.StatusInternalServerError, Title: "Internal error",
		Detail: "Something went wrong on our side. Sending the same order again is safe."})
}
