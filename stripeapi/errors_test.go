package stripeapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRejectedParameterIsError(t *testing.T) {
	c := newClient(t, mockURL)
	_, err := c.Refunds.Create(context.Background(), "k1", RefundCreate{Charge: "ch_123", Reason: "because"})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want *Error", err, err)
	}
	if e.Type != "invalid_request_error" || e.HTTPStatus != http.StatusBadRequest || e.Retryable {
		t.Errorf("got %+v", e)
	}
	// stripe-mock names the failing property in its message.
	if !strings.Contains(e.Message, "reason") || !strings.HasPrefix(err.Error(), "stripe: 400 invalid_request_error") {
		t.Errorf("message %q, text %q", e.Message, err.Error())
	}
}

func TestListLimitCheckedLocally(t *testing.T) {
	c := newClient(t, mockURL)
	for _, limit := range []int64{-1, 101} {
		if _, err := c.Charges.List(context.Background(), ListParams{Limit: limit}); err == nil {
			t.Errorf("limit %d accepted", limit)
		}
	}
	if s := c.Stats(); s.Requests != 0 {
		t.Errorf("stats %+v, want no request", s)
	}
}

func TestWriteWithoutIdempotencyKeyRefused(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, mockURL)
	before := c.Stats()
	checks := map[string]error{}
	_, checks["customer create"] = c.Customers.Create(ctx, "", CustomerParams{})
	_, checks["invoice finalize"] = c.Invoices.Finalize(ctx, "  ", "in_1")
	_, checks["invoice item create"] = c.InvoiceItems.Create(ctx, "", InvoiceItemCreate{Customer: "cus_1"})
	_, checks["refund create"] = c.Refunds.Create(ctx, "", RefundCreate{Charge: "ch_1"})
	_, checks["key too long"] = c.Refunds.Create(ctx, strings.Repeat("k", 256), RefundCreate{Charge: "ch_1"})
	for name, err := range checks {
		if err == nil {
			t.Errorf("%s: sent without a usable idempotency key", name)
		}
	}
	if !errors.Is(checks["refund create"], ErrIdempotencyKeyRequired) {
		t.Errorf("got %v, want ErrIdempotencyKeyRequired", checks["refund create"])
	}
	if after := c.Stats(); after != before {
		t.Errorf("stats moved from %+v to %+v", before, after)
	}
}

// Stripe's own 401 message echoes part of the key; neither the error nor
// the log may carry it.
func TestUnauthorizedHidesKey(t *testing.T) {
	const key = "sk_test_51SuperSecretValue"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Request-Id", "req_401")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"message":"Invalid API Key provided: sk_test_************************alue","type":"invalid_request_error"}}`))
	}))
	defer srv.Close()
	var logs logBuffer
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.SecretKey = key; cfg.Logger = logs.logger() })

	_, err := c.Customers.Get(context.Background(), "cus_1")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v", err, err)
	}
	if e.HTTPStatus != 401 || e.Message != msgBadKey || e.Retryable || e.RequestID != "req_401" {
		t.Errorf("got %+v", e)
	}
	for where, text := range map[string]string{"error": err.Error(), "log": logs.String()} {
		if strings.Contains(text, key) || strings.Contains(text, "sk_test_") || strings.Contains(text, "alue") {
			t.Errorf("%s holds the key: %s", where, text)
		}
	}
	if !strings.Contains(logs.String(), "status 401") {
		t.Errorf("stripe-go's error was not logged: %q", logs.String())
	}
}

func TestStripeErrorFields(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Request-Id", "req_123")
		switch r.URL.Path {
		case "/v1/refunds":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"parameter_unknown","param":"foo","message":"Received unknown parameter: foo"}}`))
		case "/v1/charges/ch_gone":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"resource_missing","param":"id","message":"No such charge: 'ch_gone'"}}`))
		case "/v1/invoices/in_1/pay":
			w.WriteHeader(http.StatusPaymentRequired)
			w.Write([]byte(`{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`))
		default: // a proxy's HTML page, not Stripe JSON
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte(`<html>bad gateway</html>`))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := newClient(t, srv.URL)

	_, err := c.Refunds.Create(ctx, "k", RefundCreate{Charge: "ch_1"})
	if want := `stripe: 400 invalid_request_error parameter_unknown (param "foo", request req_123): Received unknown parameter: foo`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}

	_, err = c.Charges.Get(ctx, "ch_gone")
	if !IsNotFound(err) {
		t.Errorf("IsNotFound(%v) = false", err)
	}

	_, err = c.Invoices.Pay(ctx, "k", "in_1", InvoicePay{})
	var e *Error
	if !errors.As(err, &e) || e.Type != "card_error" || e.DeclineCode != "insufficient_funds" || e.Message != "Your card has insufficient funds." || e.Retryable {
		t.Errorf("card error: %+v", e)
	}
	if IsNotFound(err) {
		t.Error("a decline is not a missing object")
	}

	_, err = c.Customers.Get(ctx, "cus_1")
	if !errors.As(err, &e) || e.HTTPStatus != http.StatusBadGateway || e.Message != msgServer || !e.Retryable {
		t.Errorf("502: %T %+v", err, err)
	}
}

func TestNetworkErrors(t *testing.T) {
	// A server that is gone: nothing listens on its port any more.
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	c := newClient(t, base)
	_, err := c.Customers.Get(context.Background(), "cus_1")
	var e *Error
	if !errors.As(err, &e) || e.Type != "network_error" || e.Message != msgNetwork || !e.Retryable || e.HTTPStatus != 0 {
		t.Fatalf("got %T %v", err, err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error holds the key: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Customers.Get(ctx, "cus_1")
	if !errors.Is(err, context.Canceled) || !errors.As(err, &e) || e.Retryable {
		t.Errorf("canceled: %T %v", err, err)
	}
}

func TestAttemptTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.Timeout = 20 * time.Millisecond })
	_, err := c.Charges.Get(context.Background(), "ch_1")
	var e *Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &e) || e.Type != "network_error" || !e.Retryable {
		t.Fatalf("got %T %v", err, err)
	}
}
