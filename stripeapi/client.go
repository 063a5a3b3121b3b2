// Package stripeapi is paydesk's Stripe connector: one endpoint type per
// resource (customers, invoices, invoice items, charges, refunds, events),
// each call ctx-first, every write under a caller-chosen idempotency key.
// Lists return store rows parsed from the raw JSON Stripe sent, so the mirror
// keeps each object byte for byte.
//
// All traffic goes through one http.RoundTripper that applies the client's
// rate limit before every attempt and retries 429 answers with backoff, so a
// backfill running many windows in parallel stays under Stripe's limits.
package stripeapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/charge"
	"github.com/stripe/stripe-go/v76/customer"
	"github.com/stripe/stripe-go/v76/event"
	"github.com/stripe/stripe-go/v76/invoice"
	"github.com/stripe/stripe-go/v76/invoiceitem"
	"github.com/stripe/stripe-go/v76/refund"
	"golang.org/x/time/rate"
)

// APIVersion is the Stripe API version every request is made at. stripe-go
// v76 pins it (and sends it as Stripe-Version); the mirror's column mapping
// and stripe-mock's spec are written against exactly this version, and a
// test asserts the two agree.
const APIVersion = "2023-10-16"

const (
	defaultTimeout      = 30 * time.Second
	defaultRetryBackoff = 500 * time.Millisecond
)

// Config configures a Client. Zero values are usable defaults except
// SecretKey, which is required.
type Config struct {
	// SecretKey is the test or live key chosen by the caller. It is only ever
	// sent in the Authorization header and never logged.
	SecretKey string
	// LiveMode says which key SecretKey is; rows without their own livemode
	// field (refunds) take it from here.
	LiveMode bool
	// APIBase overrides https://api.stripe.com (stripe-mock or a fake in tests).
	APIBase string
	// RequestsPerSecond caps HTTP attempts per second; 0 is unlimited.
	RequestsPerSecond float64
	// MaxNetworkRetries is passed to stripe-go as is: how often it retries
	// connection errors, 409s and 5xx on reads.
	MaxNetworkRetries int
	// RateLimitRetries is how many times a 429 answer is retried.
	RateLimitRetries int
	// RetryBackoff is the base delay of the 429 backoff (default 500ms).
	RetryBackoff time.Duration
	// Timeout bounds each HTTP attempt (default 30s).
	Timeout time.Duration
	// Logger receives stripe-go's warnings and errors, with keys redacted;
	// nil discards them.
	Logger *slog.Logger
}

// Client reaches one Stripe account with one key. It is safe for concurrent
// use.
type Client struct {
	Customers    *Customers
	Invoices     *Invoices
	InvoiceItems *InvoiceItems
	Charges      *Charges
	Refunds      *Refunds
	Events       *Events

	backend  stripe.Backend
	key      string
	livemode bool
	stats    *counters
}

// appInfoOnce guards stripe.SetAppInfo. stripe-go keeps app info (part of
// the User-Agent it sends) in a package variable with no per-backend
// setting, so it is global by necessity; it is the same for every Client,
// and setting it once avoids racing requests that read it.
var appInfoOnce sync.Once

// New builds a Client from cfg.
func New(cfg Config) (*Client, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("stripeapi: no secret key configured")
	}
	if err := checkKeyMode(cfg.SecretKey, cfg.LiveMode); err != nil {
		return nil, err
	}
	if cfg.RequestsPerSecond < 0 {
		return nil, fmt.Errorf("stripeapi: RequestsPerSecond %v is negative", cfg.RequestsPerSecond)
	}
	appInfoOnce.Do(func() {
		stripe.SetAppInfo(&stripe.AppInfo{Name: "paydesk", URL: "https://github.com/paydesk/paydesk"})
	})

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stats := &counters{}
	tr := &transport{
		base:       baseTransport(),
		stats:      stats,
		maxRetries: max(cfg.RateLimitRetries, 0),
		backoff:    orDefault(cfg.RetryBackoff, defaultRetryBackoff),
		timeout:    orDefault(cfg.Timeout, defaultTimeout),
	}
	if cfg.RequestsPerSecond > 0 {
		tr.limiter = rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), max(1, int(cfg.RequestsPerSecond)))
	}

	bc := &stripe.BackendConfig{
		// No http.Client.Timeout: it would span limiter waits and 429
		// backoffs too; the transport bounds each attempt instead.
		HTTPClient:        &http.Client{Transport: tr},
		MaxNetworkRetries: stripe.Int64(int64(max(cfg.MaxNetworkRetries, 0))),
		LeveledLogger:     &stripeLogger{log: logger, key: cfg.SecretKey},
		// Telemetry would send request ids and timings back to Stripe in
		// headers; a self-hosted back office has no need to.
		EnableTelemetry: stripe.Bool(false),
	}
	if cfg.APIBase != "" {
		bc.URL = stripe.String(cfg.APIBase)
	}
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, bc)

	c := &Client{backend: backend, key: cfg.SecretKey, livemode: cfg.LiveMode, stats: stats}
	c.Customers = &Customers{c: c, api: customer.Client{B: backend, Key: cfg.SecretKey}}
	c.Invoices = &Invoices{c: c, api: invoice.Client{B: backend, Key: cfg.SecretKey}}
	c.InvoiceItems = &InvoiceItems{c: c, api: invoiceitem.Client{B: backend, Key: cfg.SecretKey}}
	c.Charges = &Charges{c: c, api: charge.Client{B: backend, Key: cfg.SecretKey}}
	c.Refunds = &Refunds{c: c, api: refund.Client{B: backend, Key: cfg.SecretKey}}
	c.Events = &Events{c: c, api: event.Client{B: backend, Key: cfg.SecretKey}}
	return c, nil
}

// LiveMode reports whether the client uses the live key.
func (c *Client) LiveMode() bool { return c.livemode }

// checkKeyMode catches a live key configured for test mode and the reverse,
// which would otherwise mirror one account's data under the other's flag.
// Keys without a recognised prefix (fakes in tests) pass.
func checkKeyMode(key string, live bool) error {
	isTest := strings.HasPrefix(key, "sk_test_") || strings.HasPrefix(key, "rk_test_")
	isLive := strings.HasPrefix(key, "sk_live_") || strings.HasPrefix(key, "rk_live_")
	switch {
	case live && isTest:
		return errors.New("stripeapi: live mode is on but the secret key is a test key")
	case !live && isLive:
		return errors.New("stripeapi: live mode is off but the secret key is a live key")
	}
	return nil
}

// baseTransport is a private copy of http.DefaultTransport, so tuning or
// closing idle connections here never affects other clients.
func baseTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return http.DefaultTransport
}

// orDefault returns v, or def when v is not positive.
func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}
