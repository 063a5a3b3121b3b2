package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
)

var webhookRoutes = []string{"/webhooks/stripe", "/api/finances/stripe/webhook/"}

func jsonEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("data = %s, want %s", got, want)
	}
}

func TestWebhookStoresAValidDelivery(t *testing.T) {
	st := storetest.New(t)
	srv := newServer(t, st, secretOld)
	for i, route := range webhookRoutes {
		id := []string{"evt_valid_a", "evt_valid_b"}[i]
		body := eventBody(id, stripeapi.APIVersion)
		rec := post(srv, route, body, sign(body, secretOld))
		if rec.Code != http.StatusOK || rec.Body.String() != `{"received":true}` {
			t.Fatalf("%s: %d %q", route, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", route, ct)
		}
		ev, err := st.Event(context.Background(), id)
		if err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		if ev.Status != store.EventQueued || ev.Source != store.SourceWebhook || ev.Deliveries != 1 ||
			ev.Type != "customer.updated" || ev.Created != 1700000000 || ev.Livemode ||
			ev.APIVersion == nil || *ev.APIVersion != stripeapi.APIVersion ||
			ev.ObjectType == nil || *ev.ObjectType != "customer" || ev.ObjectID == nil || *ev.ObjectID != "cus_"+id {
			t.Errorf("%s: stored %+v", route, ev)
		}
		jsonEqual(t, ev.Data, body)
	}
	c := srv.Counters()
	if c.Received != 2 || c.Accepted != 2 || c.Duplicates != 0 || c.OtherAPIVersion != 0 || c.IntakeErrors != 0 {
		t.Errorf("counters %+v", c)
	}
	if n := count(t, st, `SELECT count(*) FROM rejected_deliveries`); n != 0 {
		t.Errorf("%d rejected deliveries recorded", n)
	}
}

func TestWebhookRefusesBadDeliveries(t *testing.T) {
	st := storetest.New(t)
	srv := newServer(t, st, secretOld, secretNew)
	body := eventBody("evt_bad", stripeapi.APIVersion)
	tampered := bytes.Replace(body, []byte("Zoë"), []byte("Eve"), 1)
	garbage := []byte(`[1,2,3]`)
	// Signed, but Latin-1: PostgreSQL stores only UTF-8, and such a body
	// once failed the whole group of deliveries written with it.
	latin1 := bytes.Replace(eventBody("evt_latin1", stripeapi.APIVersion), []byte("Zoë"), []byte("Zo\xeb"), 1)
	// A valid event padded past the limit.
	oversize := append(bytes.TrimSuffix(eventBody("evt_big", stripeapi.APIVersion), []byte("}")), []byte(`,"pad":"`)...)
	oversize = append(oversize, bytes.Repeat([]byte("x"), 1<<20)...)
	oversize = append(oversize, []byte(`"}`)...)
	cases := []struct {
		name, reason string
		body         []byte
		header       string
		status       int
		message      string
	}{
		{"forged", "signature", body, sign(body, "whsec_attacker"), 400, "signature does not match"},
		{"tampered", "signature", tampered, sign(body, secretOld), 400, "signature does not match"},
		{"stale", "stale", body, stripeapi.SignWebhook(body, secretOld, time.Now().Add(-stripeapi.WebhookTolerance-time.Minute)), 400, "too old"},
		{"unsigned", "unsigned", body, "", 400, "missing Stripe-Signature"},
		{"malformed header", "malformed", body, "t=abc,v1=", 400, "malformed Stripe-Signature"},
		{"signed non-event", "not_event", garbage, sign(garbage, secretOld), 400, "not a Stripe event"},
		{"signed, not UTF-8", "not_event", latin1, sign(latin1, secretOld), 400, "not a Stripe event"},
		{"oversize", "oversize", oversize, sign(oversize, secretOld), 413, "larger than 1 MiB"},
	}
	want := map[string]int64{}
	for i, tc := range cases {
		rec := post(srv, "/webhooks/stripe", tc.body, tc.header)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.message) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, rec.Code, rec.Body, tc.status, tc.message)
		}
		if strings.Contains(rec.Body.String(), "webhook:") {
			t.Errorf("%s: internal error text shown: %q", tc.name, rec.Body)
		}
		var got struct {
			Reason string `db:"reason"`
			Remote string `db:"remote_addr"`
			Body   []byte `db:"body"`
		}
		if err := st.DB().GetContext(context.Background(), &got, `SELECT reason, remote_addr, body FROM rejected_deliveries ORDER BY id DESC LIMIT 1`); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		keep := min(len(tc.body), 4<<10)
		if got.Reason != tc.reason || got.Remote != "192.0.2.7" || !bytes.Equal(got.Body, tc.body[:keep]) {
			t.Errorf("%s: recorded %q from %q (%d bytes), want %q", tc.name, got.Reason, got.Remote, len(got.Body), tc.reason)
		}
		if n := count(t, st, `SELECT count(*) FROM rejected_deliveries`); n != i+1 {
			t.Errorf("%s: %d rejected deliveries recorded, want %d", tc.name, n, i+1)
		}
		want[tc.reason]++
	}
	if n := count(t, st, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("%d events stored from bad deliveries", n)
	}
	c := srv.Counters()
	for reason, n := range want {
		if c.Rejected[reason] != n {
			t.Errorf("rejected[%s] = %d, want %d", reason, c.Rejected[reason], n)
		}
	}
	if c.Received != int64(len(cases)) || c.Accepted != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestWebhookBodyLimitIsInclusive(t *testing.T) {
	st := storetest.New(t)
	srv := newServer(t, st, secretOld)
	body := append(bytes.TrimSuffix(eventBody("evt_exactly_1mib", stripeapi.APIVersion), []byte("}")), []byte(`,"pad":"`)...)
	body = append(body, bytes.Repeat([]byte("x"), 1<<20-len(body)-2)...)
	body = append(body, []byte(`"}`)...)
	if len(body) != 1<<20 {
		t.Fatalf("body is %d bytes", len(body))
	}
	if rec := post(srv, "/webhooks/stripe", body, sign(body, secretOld)); rec.Code != http.StatusOK {
		t.Fatalf("a 1 MiB delivery: %d %q", rec.Code, rec.Body)
	}
}

func TestWebhookAcceptsTheSecondRotatedSecret(t *testing.T) {
	st := storetest.New(t)
	srv := newServer(t, st, secretOld, secretNew)
	body := eventBody("evt_rotated", stripeapi.APIVersion)
	if rec := post(srv, "/webhooks/stripe", body, sign(body, secretNew)); rec.Code != http.StatusOK {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
	if _, err := st.Event(context.Background(), "evt_rotated"); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookWithoutSecretRefusesEverything(t *testing.T) {
	st := storetest.New(t)
	srv := newServer(t, st, " ") // blank entries count as none
	body := eventBody("evt_nosecret", stripeapi.APIVersion)
	for _, header := range []string{sign(body, secretOld), ""} {
		rec := post(srv, "/webhooks/stripe", body, header)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "STRIPE_WEBHOOK_SECRET") {
			t.Errorf("%d %q", rec.Code, rec.Body)
		}
	}
	if n := count(t, st, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("%d events stored without a secret", n)
	}
	if n := count(t, st, `SELECT count(*) FROM rejected_deliveries WHERE reason = 'no_secret'`); n != 2 {
		t.Errorf("%d no_secret deliveries recorded, want 2", n)
	}
	if c := srv.Counters(); c.Rejected["no_secret"] != 2 || c.Accepted != 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestWebhookDuplicateDelivery(t *testing.T) {
	st := storetest.New(t)
	srv := newServer(t, st, secretOld)
	body := eventBody("evt_twice", stripeapi.APIVersion)
	for i := range 2 {
		rec := post(srv, "/webhooks/stripe", body, sign(body, secretOld))
		if rec.Code != http.StatusOK || rec.Body.String() != `{"received":true}` {
			t.Fatalf("delivery %d: %d %q", i+1, rec.Code, rec.Body)
		}
	}
	if n := count(t, st, `SELECT count(*) FROM events`); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
	ev, err := st.Event(context.Background(), "evt_twice")
	if err != nil || ev.Deliveries != 2 {
		t.Errorf("deliveries = %d, %v; want 2", ev.Deliveries, err)
	}
	if c := srv.Counters(); c.Accepted != 2 || c.Duplicates != 1 {
		t.Errorf("counters %+v", c)
	}
}

// Stripe retries concurrently too: sixteen simultaneous deliveries of one
// event make one row and count every delivery.
func TestWebhookConcurrentDuplicates(t *testing.T) {
	st := storetest.New(t)
	srv := newServer(t, st, secretOld)
	body := eventBody("evt_sixteen", stripeapi.APIVersion)
	header := sign(body, secretOld)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if rec := post(srv, "/webhooks/stripe", body, header); rec.Code != http.StatusOK {
				t.Errorf("%d %q", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	ev, err := st.Event(context.Background(), "evt_sixteen")
	if err != nil || ev.Deliveries != 16 {
		t.Errorf("deliveries = %d, %v; want 16", ev.Deliveries, err)
	}
	if c := srv.Counters(); c.Received != 16 || c.Accepted != 16 || c.Duplicates != 15 {
		t.Errorf("counters %+v", c)
	}
}

func TestWebhookAcceptsOtherAPIVersions(t *testing.T) {
	st := storetest.New(t)
	var logs bytes.Buffer
	srv := handlers.New(withStaff(t, handlers.Config{WebhookSecrets: []string{secretOld}, Intake: st, Ready: readyFunc(alwaysReady),
		Log: slog.New(slog.NewTextHandler(&logs, nil))}))
	for _, tc := range []struct{ id, version string }{{"evt_old_version", "2020-08-27"}, {"evt_null_version", "null"}} {
		body := eventBody(tc.id, tc.version)
		if rec := post(srv, "/webhooks/stripe", body, sign(body, secretOld)); rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %q", tc.id, rec.Code, rec.Body)
		}
		ev, err := st.Event(context.Background(), tc.id)
		if err != nil || ev.Status != store.EventQueued {
			t.Fatalf("%s: %+v %v", tc.id, ev, err)
		}
		if tc.version == "null" && ev.APIVersion != nil || tc.version != "null" && (ev.APIVersion == nil || *ev.APIVersion != tc.version) {
			t.Errorf("%s: api_version %v", tc.id, ev.APIVersion)
		}
	}
	if c := srv.Counters(); c.OtherAPIVersion != 2 || c.Accepted != 2 {
		t.Errorf("counters %+v", c)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "api_version=2020-08-27") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
}

// With the database down the delivery is not acknowledged, so Stripe
// retries it, and the retry is stored once the database is back.
func TestWebhookDatabaseDown(t *testing.T) {
	_, url := storetest.NewWithURL(t)
	down, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	srv := newServer(t, down, secretOld)
	body := eventBody("evt_retry_me", stripeapi.APIVersion)
	header := sign(body, secretOld)
	rec := post(srv, "/webhooks/stripe", body, header)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("database down: %d %q, want 503", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "closed") || strings.Contains(rec.Body.String(), "store:") {
		t.Errorf("internal error text shown: %q", rec.Body)
	}
	if c := srv.Counters(); c.IntakeErrors != 1 || c.Accepted != 0 {
		t.Errorf("counters %+v", c)
	}
	// A refused delivery is still refused with 400 when it cannot be recorded.
	if rec := post(srv, "/webhooks/stripe", body, sign(body, "whsec_attacker")); rec.Code != http.StatusBadRequest {
		t.Errorf("forged with the database down: %d, want 400", rec.Code)
	}

	back, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if n := count(t, back, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("%d events stored while down", n)
	}
	srv = newServer(t, back, secretOld)
	if rec := post(srv, "/webhooks/stripe", body, header); rec.Code != http.StatusOK {
		t.Fatalf("retry: %d %q", rec.Code, rec.Body)
	}
	if ev, err := back.Event(context.Background(), "evt_retry_me"); err != nil || ev.Deliveries != 1 {
		t.Errorf("after the retry: %+v %v", ev, err)
	}
}

func TestWebhookRoutesAcceptOnlyPost(t *testing.T) {
	srv := newServer(t, storetest.New(t), secretOld)
	for _, route := range webhookRoutes {
		rec := get(srv, route)
		if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "POST") {
			t.Errorf("GET %s: %d, Allow %q", route, rec.Code, rec.Header().Get("Allow"))
		}
	}
	body := eventBody("evt_below", stripeapi.APIVersion)
	if rec := post(srv, "/api/finances/stripe/webhook/extra", body, sign(body, secretOld)); rec.Code != http.StatusNotFound {
		t.Errorf("a path below the seed's route: %d, want 404", rec.Code)
	}
}

// The request log is at debug level and holds the method, route, status
// and duration: never the body or the signature.
func TestRequestLog(t *testing.T) {
	st := storetest.New(t)
	var logs bytes.Buffer
	srv := handlers.New(withStaff(t, handlers.Config{WebhookSecrets: []string{secretOld}, Intake: st, Ready: readyFunc(alwaysReady),
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}))
	body := eventBody("evt_logged", stripeapi.APIVersion)
	header := sign(body, secretOld)
	post(srv, "/webhooks/stripe", body, header)
	post(srv, "/webhooks/stripe", body, header[:len(header)-4]+"0000")
	out := logs.String()
	for _, want := range []string{`msg="http request" method=POST route="POST /webhooks/stripe" status=200 duration=`, `status=400`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, secretish := range []string{header[len(header)-20:], "Zoë", secretOld} {
		if strings.Contains(out, secretish) {
			t.Errorf("log holds %q:\n%s", secretish, out)
		}
	}

	// At info level a successful delivery logs nothing.
	logs.Reset()
	quiet := handlers.New(withStaff(t, handlers.Config{WebhookSecrets: []string{secretOld}, Intake: st, Ready: readyFunc(alwaysReady),
		Log: slog.New(slog.NewTextHandler(&logs, nil))}))
	body = eventBody("evt_quiet", stripeapi.APIVersion)
	if rec := post(quiet, "/webhooks/stripe", body, sign(body, secretOld)); rec.Code != http.StatusOK || logs.Len() != 0 {
		t.Errorf("%d; logged %q", rec.Code, logs.String())
	}
}
