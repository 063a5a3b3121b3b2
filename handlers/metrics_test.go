package handlers_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/stripeapi"
	"paydesk/stripeapi/apply"
)

const metricsToken = "metrics-token-0123456789abcdef"

// scrape reads /metrics with the token and parses it, failing on any line
// that is not Prometheus' text format.
func scrape(t *testing.T, srv http.Handler) metricSamples {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %q\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	return parseMetrics(t, rec.Body.String())
}

// metricSamples maps a series as written (name{labels}) to its value.
type metricSamples map[string]float64

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$`)
)

func parseMetrics(t *testing.T, text string) metricSamples {
	t.Helper()
	out := metricSamples{}
	typed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if m := typeLine.FindStringSubmatch(line); m != nil {
			if typed[m[1]] {
				t.Errorf("family %s declared twice", m[1])
			}
			typed[m[1]] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")
		if !typed[m[1]] && !typed[family] {
			t.Errorf("sample %s before its TYPE line", m[1])
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("value of %q: %v", line, err)
		}
		key := m[1] + m[2]
		if _, dup := out[key]; dup {
			t.Errorf("series %s twice", key)
		}
		out[key] = v
	}
	return out
}

// TestMetricsMoveWithWebhooks sends signed deliveries, a duplicate and a
// forged one, applies the events with a real worker, and checks each
// figure moved by exactly what happened.
func TestMetricsMoveWithWebhooks(t *testing.T) {
	ctx := context.Background()
	// A Stripe API that knows one customer and nothing else.
	stripeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/customers/cus_known" {
			w.Write([]byte(`{"id":"cus_known","object":"customer","created":1700000000,"livemode":false}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such object"}}`))
	}))
	defer stripeSrv.Close()
	api, err := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_metrics", APIBase: stripeSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	monitor := &apply.Monitor{}
	e := newStaffEnv(t, handlers.Config{})
	e.srv = handlers.New(withStaff(t, handlers.Config{WebhookSecrets: []string{secretOld}, Intake: e.st, Staff: e.st,
		Ready: readyFunc(alwaysReady), Metrics: handlers.MetricsConfig{Token: metricsToken, Database: e.st, Workers: monitor, Stripe: api}}))
	worker := apply.NewWorker(e.st, api, apply.Options{Monitor: monitor})

	before := scrape(t, e.srv)
	for _, series := range []string{
		`paydesk_webhook_deliveries_received_total`, `paydesk_webhook_deliveries_rejected_total{reason="signature"}`,
		`paydesk_events_settled_total{outcome="applied"}`, `paydesk_event_queue_depth{status="queued"}`,
		`paydesk_metrics_database_up`, `paydesk_event_workers_running`,
	} {
		if _, ok := before[series]; !ok {
			t.Errorf("the first scrape has no %s", series)
		}
	}
	if before[`paydesk_event_queue_depth{status="queued"}`] != 0 || before[`paydesk_event_queue_lag_seconds`] != 0 {
		t.Errorf("an empty queue: depth %v, lag %v", before[`paydesk_event_queue_depth{status="queued"}`], before[`paydesk_event_queue_lag_seconds`])
	}

	for _, id := range []string{"evt_metrics_1", "evt_metrics_2", "evt_metrics_1"} {
		body := eventBody(id, stripeapi.APIVersion)
		if rec := post(e.srv, "/webhooks/stripe", body, sign(body, secretOld)); rec.Code != http.StatusOK {
			t.Fatalf("delivery %s: %d %s", id, rec.Code, rec.Body)
		}
	}
	forged := eventBody("evt_metrics_forged", stripeapi.APIVersion)
	if rec := post(e.srv, "/webhooks/stripe", forged, sign(forged, "whsec_someone_else")); rec.Code != http.StatusBadRequest {
		t.Fatalf("forged delivery: %d", rec.Code)
	}
	// An event at an old API version: its object is re-fetched, and Stripe
	// does not know it, so it fails.
	old := []byte(`{"id":"evt_metrics_old","object":"event","api_version":"2019-01-01","created":1700000000,"livemode":false,` +
		`"type":"customer.updated","data":{"object":{"id":"cus_unknown","object":"customer"}}}`)
	if rec := post(e.srv, "/webhooks/stripe", old, sign(old, secretOld)); rec.Code != http.StatusOK {
		t.Fatalf("old-version delivery: %d", rec.Code)
	}
	time.Sleep(20 * time.Millisecond) // the queue's age is measured in the database's time

	queued := scrape(t, e.srv)
	delta := func(after metricSamples, series string) float64 { return after[series] - before[series] }
	for series, want := range map[string]float64{
		`paydesk_webhook_deliveries_received_total`:                                                        5,
		`paydesk_webhook_deliveries_accepted_total`:                                                        4,
		`paydesk_webhook_deliveries_duplicate_total`:                                                       1,
		`paydesk_webhook_deliveries_rejected_total{reason="signature"}`:                                    1,
		`paydesk_webhook_deliveries_rejected_total{reason="unsigned"}`:                                     0,
		`paydesk_webhook_other_api_version_total`:                                                          1,
		`paydesk_event_queue_depth{status="queued"}`:                                                       3,
		`paydesk_http_request_duration_seconds_count{route="POST /webhooks/stripe",code="2xx"}`:            4,
		`paydesk_http_request_duration_seconds_count{route="POST /webhooks/stripe",code="4xx"}`:            1,
		`paydesk_http_request_duration_seconds_bucket{route="POST /webhooks/stripe",code="4xx",le="+Inf"}`: 1,
		`paydesk_events_settled_total{outcome="applied"}`:                                                  0,
	} {
		if got := delta(queued, series); got != want {
			t.Errorf("after the deliveries, %s moved by %v, want %v", series, got, want)
		}
	}
	if lag := queued[`paydesk_event_queue_lag_seconds`]; lag <= 0 || lag > 60 {
		t.Errorf("queue lag %v s with three events waiting", lag)
	}
	// Buckets are cumulative and end at the count.
	prev := -1.0
	for _, le := range []string{"0.005", "0.01", "0.1", "1", "10", "+Inf"} {
		v := queued[`paydesk_http_request_duration_seconds_bucket{route="POST /webhooks/stripe",code="2xx",le="`+le+`"}`]
		if v < prev {
			t.Errorf("bucket le=%s holds %v, less than the one before (%v)", le, v, prev)
		}
		prev = v
	}
	if prev != queued[`paydesk_http_request_duration_seconds_count{route="POST /webhooks/stripe",code="2xx"}`] {
		t.Errorf("the +Inf bucket (%v) is not the count", prev)
	}

	for {
		n, err := worker.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	applied := scrape(t, e.srv)
	for series, want := range map[string]float64{
		`paydesk_events_settled_total{outcome="applied"}`:                                                  2,
		`paydesk_events_settled_total{outcome="failed"}`:                                                   1,
		`paydesk_event_queue_depth{status="queued"}`:                                                       0,
		`paydesk_event_queue_depth{status="failed"}`:                                                       1,
		`paydesk_stripe_requests_total{method="GET",endpoint="/v1/customers/{id}",outcome="client_error"}`: 1,
	} {
		if got := delta(applied, series); got != want {
			t.Errorf("after the worker ran, %s moved by %v, want %v", series, got, want)
		}
	}
	if applied[`paydesk_event_queue_lag_seconds`] != 0 {
		t.Errorf("queue lag %v with nothing queued", applied[`paydesk_event_queue_lag_seconds`])
	}
	if n := count(t, e.st, `SELECT count(*) FROM events WHERE status = 'applied'`); n != 2 {
		t.Errorf("%d events applied in the database, want 2", n)
	}
	// The scrapes themselves are observed, under their pattern.
	if applied[`paydesk_http_request_duration_seconds_count{route="GET /metrics",code="2xx"}`] < 2 {
		t.Errorf("the scrapes are not counted under GET /metrics")
	}

	// Sync progress: a finished run, then one under way.
	run, err := e.st.StartSync(ctx, store.SyncRun{Objects: []string{"customer"}, Until: time.Now()},
		[]store.SyncWindow{{Object: "customer", Lo: 0, Hi: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.FinishSync(ctx, run.ID, "done"); err != nil {
		t.Fatal(err)
	}
	run, err = e.st.StartSync(ctx, store.SyncRun{Objects: []string{"charge"}, Until: time.Now()},
		[]store.SyncWindow{{Object: "charge", Lo: 0, Hi: 10}})
	if err != nil {
		t.Fatal(err)
	}
	windows, err := e.st.SyncWindows(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	windows[0].Fetched = 42
	if err := e.st.AdvanceSyncWindow(ctx, windows[0]); err != nil {
		t.Fatal(err)
	}
	synced := scrape(t, e.srv)
	if got := synced[`paydesk_sync_objects{object="charge"}`]; got != 42 {
		t.Errorf("sync objects for charge: %v, want 42", got)
	}
	if synced[`paydesk_sync_running`] != 1 || synced[`paydesk_sync_windows_remaining{object="charge"}`] != 1 {
		t.Errorf("sync running %v, windows left %v", synced[`paydesk_sync_running`], synced[`paydesk_sync_windows_remaining{object="charge"}`])
	}
	if last := synced[`paydesk_sync_last_finished_timestamp_seconds`]; time.Since(time.Unix(int64(last), 0)) > time.Minute {
		t.Errorf("last finished sync at %v, want just now", last)
	}
}

// TestMetricsAccess: a signed-in admin or the bearer token; nobody else.
func TestMetricsAccess(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{Metrics: handlers.MetricsConfig{Token: metricsToken}})
	withAuth := func(auth string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec
	}
	isMetrics := func(rec *httptest.ResponseRecorder) bool {
		return rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), "# TYPE paydesk_webhook_deliveries_received_total counter")
	}
	for name, tc := range map[string]struct {
		rec  *httptest.ResponseRecorder
		want int
	}{
		"anonymous":          {withAuth(""), http.StatusUnauthorized},
		"wrong token":        {withAuth("Bearer " + metricsToken + "x"), http.StatusUnauthorized},
		"token prefix":       {withAuth("Bearer " + metricsToken[:10]), http.StatusUnauthorized},
		"empty bearer":       {withAuth("Bearer "), http.StatusUnauthorized},
		"basic auth":         {withAuth("Basic YWRtaW46YWRtaW4="), http.StatusUnauthorized},
		"viewer session":     {withAuth("", e.mustLogin(store.RoleViewer)), http.StatusForbidden},
		"support session":    {withAuth("", e.mustLogin(store.RoleSupport)), http.StatusForbidden},
		"admin session":      {withAuth("", e.mustLogin(store.RoleAdmin)), http.StatusOK},
		"token":              {withAuth("Bearer " + metricsToken), http.StatusOK},
		"admin, wrong token": {withAuth("Bearer nope", e.mustLogin(store.RoleAdmin)), http.StatusUnauthorized},
	} {
		if tc.rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", name, tc.rec.Code, tc.want)
		}
		if got := isMetrics(tc.rec); got != (tc.want == http.StatusOK) {
			t.Errorf("%s: metrics shown = %v\n%.300s", name, got, tc.rec.Body)
		}
	}
	if strings.Contains(e.logs.String(), metricsToken) {
		t.Errorf("the log holds the metrics token:\n%s", e.logs)
	}

	// Without a configured token, a bearer gets a 401 that says so, and an
	// admin's session still works.
	e = newStaffEnv(t, handlers.Config{})
	if rec := withAuth("Bearer " + metricsToken); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "PAYDESK_METRICS_TOKEN") {
		t.Errorf("bearer without a configured token: %d %q", rec.Code, rec.Body)
	}
	if rec := withAuth("", e.mustLogin(store.RoleAdmin)); !isMetrics(rec) {
		t.Errorf("admin without a configured token: %d", rec.Code)
	}
}

// TestRequestID: every answer carries an id, a well-formed incoming one is
// kept, anything else replaced, and log lines about the request name it.
func TestRequestID(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{})
	send := func(incoming string) string {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader("{}"))
		if incoming != "" {
			req.Header.Set("X-Request-Id", incoming)
		}
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec.Header().Get("X-Request-Id")
	}
	made := send("")
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(made) || send("") == made {
		t.Errorf("made ids %q and another that should differ", made)
	}
	if got := send("lb-7f3a.9c_01:2"); got != "lb-7f3a.9c_01:2" {
		t.Errorf("a proxy's id was replaced by %q", got)
	}
	for _, bad := range []string{"two words", `quote"d`, strings.Repeat("a", 65), "line\u2028break", "üñí"} {
		if got := send(bad); got == bad || len(got) != 24 {
			t.Errorf("incoming id %q answered with %q, want a new one", bad, got)
		}
	}
	// The rejected delivery's warning and the request line both name it.
	logs := e.logs.String()
	for _, want := range []string{`msg="missing Stripe-Signature header"`, `msg="http request"`} {
		found := false
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, want) && strings.Contains(line, "request_id=lb-7f3a.9c_01:2") {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s line with the request id:\n%s", want, logs)
		}
	}
}
