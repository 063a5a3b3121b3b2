package stripeapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestEndpointOf(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/customers":                               "/v1/customers",
		"/v1/customers/cus_NffrFeUfNV2Hib":            "/v1/customers/{id}",
		"/v1/charges/ch_3MmlLrLkdIwHu7ix0snN0B15":     "/v1/charges/{id}",
		"/v1/invoices/in_1/lines":                     "/v1/invoices/{id}/lines",
		"/v1/invoices/in_1/mark_uncollectible":        "/v1/invoices/{id}/mark_uncollectible",
		"/v1/invoices/upcoming":                       "/v1/invoices/upcoming",
		"/v1/charges/search":                          "/v1/charges/search",
		"/v1/customers/cus_1/sources/card_2":          "/v1/customers/{id}/sources/{id}",
		"/v1/customers/cus_1/Weird%20Segment":         "/v1/customers/{id}/{id}",
		"/v1/customers/whatever-shape/balance":        "/v1/customers/{id}/balance",
		"/v1/Customers":                               "/v1/{id}",
		"/v1/invoiceitems/ii_1":                       "/v1/invoiceitems/{id}",
		"/v1/refunds/re_1/cancel":                     "/v1/refunds/{id}/cancel",
		"/v1/events/evt_1":                            "/v1/events/{id}",
		"/v1/customers/cus_1/tax_ids/txi_1234567":     "/v1/customers/{id}/tax_ids/{id}",
		"/v1/charges/ch_1/refunds/re_1/extra/segment": "/v1/charges/{id}/refunds/{id}/extra/{id}",
	} {
		if got := endpointOf(path); got != want {
			t.Errorf("endpointOf(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestCallCountsByEndpointAndOutcome counts every attempt, retries
// included, under its endpoint and outcome.
func TestCallCountsByEndpointAndOutcome(t *testing.T) {
	limited := 2
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/customers" && limited > 0:
			limited--
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(rateLimitBody))
		case r.URL.Path == "/v1/customers":
			w.Write([]byte(customerList))
		case r.URL.Path == "/v1/charges/ch_missing":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such charge"}}`))
		default:
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":{"type":"api_error","message":"boom"}}`))
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	ctx := context.Background()
	if _, err := c.Customers.List(ctx, ListParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Charges.Get(ctx, "ch_missing"); !IsNotFound(err) {
		t.Fatalf("get a missing charge: %v", err)
	}
	if _, err := c.Charges.Get(ctx, "ch_other"); err == nil {
		t.Fatal("a 500 answer was not an error")
	}
	srv.Close()
	if _, err := c.Customers.Get(ctx, "cus_gone"); err == nil {
		t.Fatal("no error from a closed server")
	}

	want := []CallCount{
		{"GET", "/v1/charges/{id}", OutcomeClientError, 1},
		{"GET", "/v1/charges/{id}", OutcomeServerError, 1},
		{"GET", "/v1/customers", OutcomeOK, 1},
		{"GET", "/v1/customers", OutcomeRateLimited, 2},
		{"GET", "/v1/customers/{id}", OutcomeNetwork, 1},
	}
	if got := c.CallCounts(); !slices.Equal(got, want) {
		t.Errorf("call counts:\n got %+v\nwant %+v", got, want)
	}
}
