package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"paydesk/handlers"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
)

func TestHealthAndReady(t *testing.T) {
	var readyErr error
	srv := handlers.New(withStaff(t, handlers.Config{Intake: storetest.New(t),
		Ready: readyFunc(func(context.Context) error { return readyErr })}))

	if rec := get(srv, "/healthz"); rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("healthz: %d %q", rec.Code, rec.Body)
	}
	if rec := get(srv, "/readyz"); rec.Code != http.StatusOK {
		t.Errorf("readyz, ready: %d %q", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("dial tcp 10.0.0.5:5432: connect: connection refused"), "database unavailable"},
		{fmt.Errorf("schema: %w", handlers.ErrMigrationsPending), "migrations pending"},
	} {
		readyErr = tc.err
		rec := get(srv, "/readyz")
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("readyz with %v: %d %q, want 503 %q", tc.err, rec.Code, rec.Body, tc.want)
		}
		if strings.Contains(rec.Body.String(), "10.0.0.5") || strings.Contains(rec.Body.String(), "handlers:") {
			t.Errorf("readyz shows internal error text: %q", rec.Body)
		}
	}
	// healthz does not depend on the database.
	if rec := get(srv, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("healthz with the database down: %d", rec.Code)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	st := storetest.New(t)
	srv := newServer(t, st, secretOld)
	body := eventBody("evt_headers", stripeapi.APIVersion)
	responses := map[string]*http.Response{
		"healthz":         get(srv, "/healthz").Result(),
		"readyz":          get(srv, "/readyz").Result(),
		"not found":       get(srv, "/nowhere").Result(),
		"wrong method":    get(srv, "/webhooks/stripe").Result(),
		"webhook 200":     post(srv, "/webhooks/stripe", body, sign(body, secretOld)).Result(),
		"webhook 400":     post(srv, "/webhooks/stripe", body, "").Result(),
		"seed route 200":  post(srv, "/api/finances/stripe/webhook/", body, sign(body, secretOld)).Result(),
		"webhook no body": post(srv, "/webhooks/stripe", nil, "").Result(),
	}
	want := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}
	for name, resp := range responses {
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s (%d): %s = %q, want %q", name, resp.StatusCode, k, got, v)
			}
		}
	}
}
