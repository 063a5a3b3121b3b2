package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const (
	secretOld = "whsec_test_old"
	secretNew = "whsec_test_new"
)

// readyFunc is a Readiness made of a function.
type readyFunc func(context.Context) error

func (f readyFunc) Ready(ctx context.Context) error { return f(ctx) }

func alwaysReady(context.Context) error { return nil }

func newServer(t testing.TB, intake handlers.Intake, secrets ...string) *handlers.Server {
	t.Helper()
	return handlers.New(withStaff(t, handlers.Config{WebhookSecrets: secrets, Intake: intake, Ready: readyFunc(alwaysReady)}))
}

// testSessionSecret keys test servers' session cookies.
var testSessionSecret = []byte("test-session-secret-0123456789abcdef")

// withStaff completes c with what every Server needs besides the webhook
// parts: the staff store (the intake's own database when it is one, a
// fresh one otherwise) and a session secret.
func withStaff(t testing.TB, c handlers.Config) handlers.Config {
	t.Helper()
	if c.Staff == nil {
		if st, ok := c.Intake.(*store.Store); ok {
			c.Staff = st
		} else {
			c.Staff = storetest.New(t)
		}
	}
	if c.Mirror == nil {
		switch st := c.Staff.(type) {
		case *store.Store:
			c.Mirror = st
		default:
			if in, ok := c.Intake.(*store.Store); ok {
				c.Mirror = in
			} else {
				c.Mirror = storetest.New(t)
			}
		}
	}
	if c.SessionSecret == nil {
		c.SessionSecret = testSessionSecret
	}
	return c
}

// eventBody is a Stripe event as a webhook delivers it. apiVersion "null"
// sends a JSON null.
func eventBody(id, apiVersion string) []byte {
	v := `"` + apiVersion + `"`
	if apiVersion == "null" {
		v = "null"
	}
	return []byte(`{"id":"` + id + `","object":"event","api_version":` + v + `,"created":1700000000,"livemode":false,` +
		`"type":"customer.updated","data":{"object":{"id":"cus_` + id + `","object":"customer","name":"Zoë"}}}`)
}

func sign(body []byte, secret string) string { return stripeapi.SignWebhook(body, secret, time.Now()) }

// post delivers body to path through the whole handler.
func post(h http.Handler, path string, body []byte, signature string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	req.RemoteAddr = "192.0.2.7:40001"
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func get(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func count(t testing.TB, st *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := st.DB().GetContext(context.Background(), &n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}
