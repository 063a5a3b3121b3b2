// Package handlers is paydesk's HTTP layer. Every route is registered in
// routes.go; each handler is a method on Server, which holds the small
// interfaces the handlers need (satisfied by *store.Store in production).
package handlers

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/sessions"

	"paydesk/store"
	"paydesk/views"
)

// Intake stores what the webhook receiver accepts or refuses. It is
// satisfied by *store.Store. Neither method may keep the slices it is
// given after it returns: the receiver reuses its body buffers.
type Intake interface {
	// EnqueueEvent stores a verified event and reports whether it was new;
	// when it returns nil the event is durable.
	EnqueueEvent(ctx context.Context, e store.Event) (bool, error)
	// RecordRejectedDelivery keeps a delivery that failed verification.
	RecordRejectedDelivery(ctx context.Context, reason, remoteAddr string, body []byte) error
}

// Readiness answers /readyz: nil when the database answers and its schema
// is current. One that is also a Checker (health.go) has each of its
// checks named in the answer.
type Readiness interface {
	Ready(ctx context.Context) error
}

// ErrMigrationsPending is what a Readiness returns when the database
// answers but its schema is older than this binary.
var ErrMigrationsPending = errors.New("handlers: database migrations pending")

// Config holds a Server's dependencies.
type Config struct {
	// WebhookSecrets are the Stripe signing secrets (several during a
	// rotation). With none, the webhook routes refuse every delivery.
	WebhookSecrets []string
	Intake         Intake    // required
	Ready          Readiness // required
	Staff          Staff     // required
	Mirror         Mirror    // required: the pages over the mirror read it
	// SessionSecret keys the session cookie; at least 32 bytes.
	SessionSecret []byte
	// IdleTimeout and AbsoluteTimeout end sessions (defaults
	// DefaultIdleTimeout, DefaultAbsoluteTimeout).
	IdleTimeout, AbsoluteTimeout time.Duration
	HTTPS                        HTTPS
	// Live is Stripe's mode, shown on every page.
	Live bool
	// Location is the display time zone (default UTC).
	Location *time.Location
	// Changes feeds the live-update stream, GET /live (a store.Listener).
	// Without it the stream sends only heartbeats and the badge.
	Changes ChangeSource
	// LiveOptions tunes the live stream and the "behind" badge.
	LiveOptions LiveOptions
	Log         *slog.Logger
	// DemoNotice, when set, is shown as a banner on every page: paydesk
	// demo says there where Stripe calls go.
	DemoNotice string
	// Metrics configures GET /metrics (metrics.go).
	Metrics MetricsConfig
	// Refunds makes refunds on Stripe; without it the refund form says
	// refunds are unavailable.
	Refunds Refunder
	// Customers creates and edits customers on Stripe
	// (customer_actions.go); without it the forms say so.
	Customers CustomerWriter
	// RefundApproval is the amount, in minor units by lower-case currency,
	// above which a refund needs a second person's approval (dual
	// approval, approvals.go; ParseRefundApproval reads it). A currency not
	// listed needs none.
	RefundApproval map[string]int64
	// Invoices creates draft invoices and changes their state on Stripe
	// (invoice_actions.go); without it the forms say so and the invoice
	// page offers no actions.
	Invoices Invoicer
}

// Server is paydesk's http.Handler.
type Server struct {
	secrets        []string
	intake         Intake
	ready          Readiness
	staff          Staff
	mirror         Mirror
	cookies        *sessions.CookieStore
	idle, absolute time.Duration
	https          HTTPS
	live           bool
	loc            *time.Location
	log            *slog.Logger
	routes         []route
	handler        http.Handler
	counters       counters
	feed           *liveFeed
	demoNotice     string
	httpMetrics    *httpMetrics
	metricsCfg     MetricsConfig
	metricsToken   []byte // SHA-256 of MetricsConfig.Token; nil without one
	refunder       Refunder
	actions        actionStore
	customers      CustomerWriter
	tokens         tokenStore
	orders         orderStore
	approvalAbove  map[string]int64
	requests       refundRequestStore
	invoicer       Invoicer
}

// New builds the Server and its route table. It panics when a required
// dependency is missing, a wiring mistake.
func New(c Config) *Server {
	if c.Intake == nil || c.Ready == nil || c.Staff == nil || c.Mirror == nil {
		panic("handlers: Config.Intake, Config.Ready, Config.Staff and Config.Mirror are required")
	}
	if len(c.SessionSecret) < 32 {
		panic("handlers: Config.SessionSecret must hold at least 32 bytes")
	}
	s := &Server{intake: c.Intake, ready: c.Ready, staff: c.Staff, mirror: c.Mirror, log: c.Log,
		cookies: newSessionCodec(c.SessionSecret), idle: cmp.Or(c.IdleTimeout, DefaultIdleTimeout),
		absolute: cmp.Or(c.AbsoluteTimeout, DefaultAbsoluteTimeout), https: c.HTTPS, live: c.Live, loc: c.Location,
		demoNotice: c.DemoNotice, refunder: c.Refunds, approvalAbove: c.RefundApproval}
	// The requests paydesk sends Stripe are recorded beside the staff
	// accounts and the audit log (*store.Store).
	s.actions, _ = c.Staff.(actionStore)
	// API tokens and the orders of the purchase intake live there too.
	s.tokens, _ = c.Staff.(tokenStore)
	s.orders, _ = c.Staff.(orderStore)
	s.customers = c.Customers
	s.requests, _ = c.Staff.(refundRequestStore)
	s.invoicer = c.Invoices
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// Every line logged with a request's context names the request.
	s.log = slog.New(requestIDHandler{s.log.Handler()})
	if s.loc == nil {
		s.loc = time.UTC
	}
	for _, secret := range c.WebhookSecrets {
		if secret = strings.TrimSpace(secret); secret != "" {
			s.secrets = append(s.secrets, secret)
		}
	}
	s.feed = newLiveFeed(c.Changes, c.LiveOptions)
	s.handler = s.buildHandler()
	s.setupMetrics(c.Metrics)
	return s
}

// Header values shared by every response: assigning a shared slice saves
// an allocation per header per request. Nothing appends to them in place.
var (
	nosniff      = []string{"nosniff"}
	sameOrigin   = []string{"same-origin"}
	frameDeny    = []string{"DENY"}
	jsonType     = []string{"application/json"}
	textType     = []string{"text/plain; charset=utf-8"}
	noStoreCache = []string{"no-store"}
	// Scripts, styles and images come only from paydesk itself: no inline
	// script or style can run, whatever a Stripe object's text holds.
	contentSecurityPolicy = []string{"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"}
	strictTransportSecurity = []string{"max-age=31536000; includeSubDomains"}
)

// ServeHTTP sets the security headers and the request id, routes the
// request, observes its latency and, at debug level, logs it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	id := requestID(r)
	h[requestIDHeader] = []string{id}
	h["X-Content-Type-Options"] = nosniff
	h["Referrer-Policy"] = sameOrigin
	h["X-Frame-Options"] = frameDeny
	h["Content-Security-Policy"] = contentSecurityPolicy
	if s.isHTTPS(r) {
		h["Strict-Transport-Security"] = strictTransportSecurity
	}
	start := time.Now()
	ctx := context.WithValue(r.Context(), requestIDKey{}, id)
	if s.demoNotice != "" {
		ctx = views.WithDemoNotice(ctx, s.demoNotice)
	}
	if r.Method == http.MethodGet {
		// Pages report their server time (Server-Timing), for browsers'
		// developer tools and make bench-pages.
		ctx = context.WithValue(ctx, startKey{}, start)
	}
	r = r.WithContext(ctx)
	rec := &statusRecorder{ResponseWriter: w}
	s.handler.ServeHTTP(rec, r)
	route := r.Pattern // set by the mux; empty when nothing matched
	s.httpMetrics.observe(route, rec.status(), time.Since(start))
	if !s.log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	if route == "" {
		route = "(none)"
	}
	// Only the method and the route: never the body, the query or the
	// Stripe-Signature header.
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "http request",
		slog.String("method", r.Method), slog.String("route", route),
		slog.Int("status", rec.status()), slog.Duration("duration", time.Since(start)))
}

type startKey struct{}

// serverTiming is the Server-Timing header value for a response to r:
// the time since ServeHTTP took the request, or "" when it was not noted.
func serverTiming(r *http.Request) string {
	start, ok := r.Context().Value(startKey{}).(time.Time)
	if !ok {
		return ""
	}
	return "app;dur=" + strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', 3, 64)
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// fail answers status with msg, a short text safe to show anyone, and
// logs err with the request's context. err's text never reaches the
// client: it may name tables, hosts or secrets' shapes.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, msg string, err error, attrs ...slog.Attr) {
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	if s.log.Enabled(r.Context(), level) {
		attrs = append(attrs, slog.String("method", r.Method), slog.String("route", r.Pattern),
			slog.Int("status", status), slog.Any("err", err))
		s.log.LogAttrs(r.Context(), level, msg, attrs...)
	}
	h := w.Header()
	h["Content-Type"] = textType
	h["Cache-Control"] = noStoreCache
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
