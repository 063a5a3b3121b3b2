package handlers

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"paydesk/store"
	"paydesk/stripeapi"
	"paydesk/stripeapi/apply"
)

// The metrics are written in Prometheus' text format by hand: the format
// is a few lines of rules, and paydesk's few counters and one histogram do
// not need client_golang and its dependencies.

// metricsPattern is the route of GET /metrics.
const metricsPattern = "GET /metrics"

// metricsRoute: a signed-in admin, or a scraper holding the metrics token
// (see withMetricsToken). Anonymous callers get 401, not the sign-in page.
var metricsRoute = access{min: store.RoleAdmin, api: true}

// MetricsConfig configures GET /metrics. Every source is optional: what is
// nil is left out.
type MetricsConfig struct {
	// Token lets a scraper without a session read /metrics with
	// "Authorization: Bearer <Token>". Without one, only a signed-in admin
	// can.
	Token string
	// Database is read at scrape time for the event queue and the sync
	// progress (a *store.Store).
	Database MetricsDatabase
	// Workers are this process's event workers (an *apply.Monitor).
	Workers WorkerStats
	// Stripe is this process's Stripe client (a *stripeapi.Client).
	Stripe StripeStats
}

// MetricsDatabase is what /metrics reads from PostgreSQL at scrape time.
type MetricsDatabase interface {
	MirrorLag(ctx context.Context, livemode bool) (store.Lag, error)
	SyncProgress(ctx context.Context, livemode bool) (store.SyncProgress, error)
}

// WorkerStats reports a process's event workers.
type WorkerStats interface {
	Outcomes() apply.Outcomes
	Workers() []apply.WorkerStatus
}

// StripeStats reports a process's requests to Stripe.
type StripeStats interface {
	CallCounts() []stripeapi.CallCount
}

// setupMetrics keeps c for /metrics and makes the latency histogram for
// the routes registered (call it after buildHandler).
func (s *Server) setupMetrics(c MetricsConfig) {
	s.metricsCfg = c
	if c.Token != "" {
		sum := sha256.Sum256([]byte(c.Token))
		s.metricsToken = sum[:]
	}
	s.httpMetrics = newHTTPMetrics(s.routes)
}

// metricsTimeout bounds the database reads of one scrape.
const metricsTimeout = 3 * time.Second

// withMetricsToken lets a request to /metrics that carries a bearer token
// past the session guard when the token is the configured one, and
// refuses it with 401 when it is not: a scraper with a wrong token learns
// so at once rather than getting a sign-in answer. Requests without an
// Authorization header go to next (the admin-session guard).
func (s *Server) withMetricsToken(pattern string, next http.HandlerFunc) http.HandlerFunc {
	if pattern != metricsPattern {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		auth, ok := r.Header["Authorization"]
		if !ok {
			next(w, r)
			return
		}
		token, isBearer := strings.CutPrefix(auth[0], "Bearer ")
		if isBearer && len(auth) == 1 && s.metricsToken != nil && sameToken(token, s.metricsToken) {
			w.Header()["Cache-Control"] = noStoreCache
			s.metrics(w, r)
			return
		}
		w.Header()["Www-Authenticate"] = []string{`Bearer realm="paydesk metrics"`}
		msg := "metrics token refused"
		if s.metricsToken == nil {
			msg = "no metrics token is configured (PAYDESK_METRICS_TOKEN): sign in as an admin instead"
		}
		s.fail(w, r, http.StatusUnauthorized, msg, nil)
	}
}

// sameToken compares in constant time; hashing first hides the length too.
func sameToken(given string, want []byte) bool {
	sum := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(sum[:], want) == 1
}

// metrics answers GET /metrics in Prometheus' text exposition format.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var b promWriter
	s.httpMetrics.write(&b)
	s.writeWebhookMetrics(&b)
	if s.metricsCfg.Workers != nil {
		writeWorkerMetrics(&b, s.metricsCfg.Workers)
	}
	if s.metricsCfg.Stripe != nil {
		writeStripeMetrics(&b, s.metricsCfg.Stripe.CallCounts())
	}
	if s.metricsCfg.Database != nil {
		ctx, cancel := context.WithTimeout(r.Context(), metricsTimeout)
		s.writeDatabaseMetrics(ctx, &b)
		cancel()
	}
	w.Header()["Content-Type"] = []string{"text/plain; version=0.0.4; charset=utf-8"}
	_, _ = w.Write(b.Bytes())
}

func (s *Server) writeWebhookMetrics(b *promWriter) {
	c := s.Counters()
	b.family("paydesk_webhook_deliveries_received_total", "counter", "Deliveries POSTed to the webhook routes, by this process since it started.")
	b.int("paydesk_webhook_deliveries_received_total", nil, c.Received)
	b.family("paydesk_webhook_deliveries_accepted_total", "counter", "Deliveries answered 200 (new events and duplicates), by this process since it started.")
	b.int("paydesk_webhook_deliveries_accepted_total", nil, c.Accepted)
	b.family("paydesk_webhook_deliveries_duplicate_total", "counter", "Accepted deliveries of an event already stored, by this process since it started.")
	b.int("paydesk_webhook_deliveries_duplicate_total", nil, c.Duplicates)
	b.family("paydesk_webhook_deliveries_rejected_total", "counter", "Deliveries refused, by reason, by this process since it started.")
	for reason := range numRejectReasons {
		name := rejections[reason].name
		b.int("paydesk_webhook_deliveries_rejected_total", []string{"reason", name}, c.Rejected[name])
	}
	b.family("paydesk_webhook_intake_errors_total", "counter", "Verified deliveries the database did not take (answered 503 so Stripe retries), by this process since it started.")
	b.int("paydesk_webhook_intake_errors_total", nil, c.IntakeErrors)
	b.family("paydesk_webhook_other_api_version_total", "counter", "Accepted deliveries at an API version other than the pinned one (their objects are re-fetched), by this process since it started.")
	b.int("paydesk_webhook_other_api_version_total", nil, c.OtherAPIVersion)
}

func writeWorkerMetrics(b *promWriter, ws WorkerStats) {
	o := ws.Outcomes()
	b.family("paydesk_events_settled_total", "counter", "Events this process's workers settled, by outcome (applied, ignored, failed; a failed event is retried and counts again), since it started.")
	b.int("paydesk_events_settled_total", []string{"outcome", store.EventApplied}, o.Applied)
	b.int("paydesk_events_settled_total", []string{"outcome", store.EventIgnored}, o.Ignored)
	b.int("paydesk_events_settled_total", []string{"outcome", store.EventFailed}, o.Failed)
	running := 0
	var last time.Time
	for _, w := range ws.Workers() {
		if w.Started && !w.Stopped {
			running++
		}
		if w.LastProgress.After(last) {
			last = w.LastProgress
		}
	}
	b.family("paydesk_event_workers_running", "gauge", "Event workers running in this process.")
	b.int("paydesk_event_workers_running", nil, int64(running))
	if !last.IsZero() {
		b.family("paydesk_event_worker_last_progress_timestamp_seconds", "gauge", "When one of this process's workers last finished a round (a batch applied or an empty look at the queue), Unix time.")
		b.float("paydesk_event_worker_last_progress_timestamp_seconds", nil, unixSeconds(last))
	}
}

func writeStripeMetrics(b *promWriter, calls []stripeapi.CallCount) {
	b.family("paydesk_stripe_requests_total", "counter", "HTTP requests this process sent to the Stripe API, retries included, by method, endpoint (ids replaced by {id}) and outcome (ok, client_error, server_error, rate_limited, network), since it started.")
	for _, c := range calls {
		b.int("paydesk_stripe_requests_total", []string{"method", c.Method, "endpoint", c.Endpoint, "outcome", c.Outcome}, c.Count)
	}
}

// writeDatabaseMetrics reads the queue and the sync progress. A failed
// read leaves its figures out and says so in paydesk_metrics_database_up,
// so a scrape still shows the process's own figures while PostgreSQL is
// away.
func (s *Server) writeDatabaseMetrics(ctx context.Context, b *promWriter) {
	lag, lagErr := s.metricsCfg.Database.MirrorLag(ctx, s.live)
	var sync store.SyncProgress
	var syncErr error
	if lagErr == nil {
		sync, syncErr = s.metricsCfg.Database.SyncProgress(ctx, s.live)
	}
	up := int64(1)
	if err := cmp.Or(lagErr, syncErr); err != nil {
		up = 0
		s.log.LogAttrs(ctx, slog.LevelWarn, "metrics: cannot read the event queue or the sync progress", slog.Any("err", err))
	}
	b.family("paydesk_metrics_database_up", "gauge", "1 when this scrape could read the event queue and the sync progress from PostgreSQL, else 0 (and those figures are left out).")
	b.int("paydesk_metrics_database_up", nil, up)
	if lagErr == nil {
		b.family("paydesk_event_queue_depth", "gauge", "Events in the database's queue, by status: queued (waiting to be applied) or failed (waiting for a retry). Every replica's, read at scrape time.")
		b.int("paydesk_event_queue_depth", []string{"status", store.EventQueued}, lag.Queued)
		b.int("paydesk_event_queue_depth", []string{"status", store.EventFailed}, lag.Failed)
		age := 0.0
		if lag.OldestQueued != nil {
			age = max(lag.Now.Sub(*lag.OldestQueued).Seconds(), 0)
		}
		b.family("paydesk_event_queue_lag_seconds", "gauge", "Age of the oldest queued event (0 when none waits), by the database's clock, read at scrape time.")
		b.float("paydesk_event_queue_lag_seconds", nil, age)
		if lag.LastSync != nil {
			b.family("paydesk_sync_last_finished_timestamp_seconds", "gauge", "When the last backfill (paydesk sync) of this mode finished, Unix time, read from the database.")
			b.float("paydesk_sync_last_finished_timestamp_seconds", nil, unixSeconds(*lag.LastSync))
		}
	}
	if syncErr == nil && lagErr == nil && sync.Run != nil {
		running := int64(0)
		if sync.Run.Status == "running" {
			running = 1
		}
		b.family("paydesk_sync_running", "gauge", "1 while the latest backfill of this mode is unfinished (running, or interrupted and waiting to be resumed), read from the database.")
		b.int("paydesk_sync_running", nil, running)
		b.family("paydesk_sync_objects", "gauge", "Objects the latest backfill of this mode stored so far, by object type, read from the database.")
		for _, o := range sync.Objects {
			b.int("paydesk_sync_objects", []string{"object", o.Object}, o.Fetched)
		}
		b.family("paydesk_sync_windows_remaining", "gauge", "Created-windows the latest backfill of this mode has yet to list, by object type, read from the database.")
		for _, o := range sync.Objects {
			b.int("paydesk_sync_windows_remaining", []string{"object", o.Object}, o.WindowsLeft)
		}
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// latencyBuckets are the request-latency histogram's upper bounds in
// seconds: pages answer in milliseconds, exports and cold reads in seconds.
var latencyBuckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// unmatchedRoute labels requests no route matched (404s, wrong methods).
const unmatchedRoute = "unmatched"

// unobservedRoutes are long-lived streams: their duration is how long a
// page stayed open, not latency.
var unobservedRoutes = map[string]bool{"GET /live": true}

// latency is a histogram: counts per bucket (not cumulative; the last is
// +Inf) and the sum of durations.
type latency struct {
	buckets [len(latencyBuckets) + 1]atomic.Int64
	sumNS   atomic.Int64
}

func (l *latency) observe(d time.Duration) {
	seconds := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && seconds > latencyBuckets[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sumNS.Add(int64(d))
}

// httpMetrics is the latency histogram of every route by status class
// (1xx to 5xx). Its map is built once from the route table and only read
// afterwards, so observing takes no lock.
type httpMetrics struct {
	routes  []string
	byRoute map[string]*[5]latency
}

func newHTTPMetrics(routes []route) *httpMetrics {
	m := &httpMetrics{byRoute: make(map[string]*[5]latency, len(routes)+1)}
	for _, rt := range routes {
		if !unobservedRoutes[rt.pattern] {
			m.routes = append(m.routes, rt.pattern)
		}
	}
	m.routes = append(m.routes, unmatchedRoute)
	slices.Sort(m.routes)
	for _, p := range m.routes {
		m.byRoute[p] = new([5]latency)
	}
	return m
}

// observe records one answered request. pattern is the route table's
// pattern that served it, "" when none matched.
func (m *httpMetrics) observe(pattern string, status int, d time.Duration) {
	if pattern == "" {
		pattern = unmatchedRoute
	}
	byClass, ok := m.byRoute[pattern]
	if !ok {
		return // a stream, or a pattern outside the table
	}
	class := min(max(status/100, 1), 5) - 1
	byClass[class].observe(d)
}

var statusClasses = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func (m *httpMetrics) write(b *promWriter) {
	const name = "paydesk_http_request_duration_seconds"
	b.family(name, "histogram", "Time to answer HTTP requests in this process, by route pattern (the route table's, e.g. \"GET /charges/{id}\"; unmatched for none) and status class. Live-update streams are left out.")
	le := make([]string, len(latencyBuckets))
	for i, v := range latencyBuckets {
		le[i] = formatFloat(v)
	}
	for _, route := range m.routes {
		for class := range m.byRoute[route] {
			h := &m.byRoute[route][class]
			var counts [len(latencyBuckets) + 1]int64
			total := int64(0)
			for i := range counts {
				counts[i] = h.buckets[i].Load()
				total += counts[i]
			}
			if total == 0 {
				continue
			}
			labels := []string{"route", route, "code", statusClasses[class], "le", ""}
			cumulative := int64(0)
			for i := range latencyBuckets {
				cumulative += counts[i]
				labels[5] = le[i]
				b.int(name+"_bucket", labels, cumulative)
			}
			labels[5] = "+Inf"
			b.int(name+"_bucket", labels, total)
			b.float(name+"_sum", labels[:4], float64(h.sumNS.Load())/1e9)
			b.int(name+"_count", labels[:4], total)
		}
	}
}

// promWriter writes Prometheus' text exposition format.
type promWriter struct{ bytes.Buffer }

// family starts a metric family with its HELP and TYPE lines.
func (b *promWriter) family(name, typ, help string) {
	b.WriteString("# HELP " + name + " ")
	b.WriteString(strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help))
	b.WriteString("\n# TYPE " + name + " " + typ + "\n")
}

// int and float write one sample; labels are name, value pairs.
func (b *promWriter) int(name string, labels []string, v int64) {
	b.name(name, labels)
	b.WriteString(strconv.FormatInt(v, 10))
	b.WriteByte('\n')
}

func (b *promWriter) float(name string, labels []string, v float64) {
	b.name(name, labels)
	b.WriteString(formatFloat(v))
	b.WriteByte('\n')
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func (b *promWriter) name(name string, labels []string) {
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i] + `="`)
			b.WriteString(labelEscaper.Replace(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
