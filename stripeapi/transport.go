package stripeapi

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Stats counts a Client's traffic since New.
type Stats struct {
	// Calls is logical calls: one per method call that reached the network
	// layer (CompleteLines counts one per page it fetches).
	Calls int64
	// Requests is HTTP attempts sent.
	Requests int64
	// Retries is attempts beyond the first of their call: 429 retries made
	// here and network retries made by stripe-go.
	Retries int64
	// RateLimited is 429 answers seen, including a final one given up on.
	RateLimited int64
}

type counters struct {
	calls, requests, retries, rateLimited atomic.Int64
	// limiterWaits counts attempts that went through the rate limiter, so
	// tests can check the limiter guards every attempt without timing.
	limiterWaits atomic.Int64
	// byEndpoint counts attempts by callKind (a *atomic.Int64 each), for
	// /metrics.
	byEndpoint sync.Map
}

// callKind is what /metrics tells attempts apart by.
type callKind struct{ method, endpoint, outcome string }

// Outcomes of an attempt, as CallCount.Outcome names them.
const (
	OutcomeOK          = "ok"
	OutcomeClientError = "client_error" // 4xx other than 429
	OutcomeServerError = "server_error" // 5xx
	OutcomeRateLimited = "rate_limited" // 429
	OutcomeNetwork     = "network"      // no answer: connection failed, timed out or canceled
)

// CallCount is how many HTTP requests this client sent to one endpoint
// with one outcome. Every attempt counts, retries included.
type CallCount struct {
	Method string
	// Endpoint is the path with ids replaced, e.g. "/v1/charges/{id}", so
	// it names the endpoint, never an object.
	Endpoint string
	Outcome  string
	Count    int64
}

// CallCounts returns the client's requests by endpoint and outcome, sorted.
func (c *Client) CallCounts() []CallCount {
	var out []CallCount
	c.stats.byEndpoint.Range(func(k, v any) bool {
		kind := k.(callKind)
		out = append(out, CallCount{Method: kind.method, Endpoint: kind.endpoint, Outcome: kind.outcome, Count: v.(*atomic.Int64).Load()})
		return true
	})
	slices.SortFunc(out, func(a, b CallCount) int {
		return cmp.Or(cmp.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Method, b.Method), cmp.Compare(a.Outcome, b.Outcome))
	})
	return out
}

// countAttempt adds one attempt at req's endpoint that ended with status
// (0: no answer).
func (c *counters) countAttempt(req *http.Request, status int) {
	outcome := OutcomeOK
	switch {
	case status == 0:
		outcome = OutcomeNetwork
	case status == http.StatusTooManyRequests:
		outcome = OutcomeRateLimited
	case status >= 500:
		outcome = OutcomeServerError
	case status >= 400:
		outcome = OutcomeClientError
	}
	kind := callKind{req.Method, endpointOf(req.URL.Path), outcome}
	n, ok := c.byEndpoint.Load(kind)
	if !ok {
		n, _ = c.byEndpoint.LoadOrStore(kind, new(atomic.Int64))
	}
	n.(*atomic.Int64).Add(1)
}

// idSegments are words that stand where an id would in Stripe's paths.
var idSegments = map[string]bool{"search": true, "upcoming": true}

// endpointOf normalises a Stripe path to its endpoint: Stripe's paths
// alternate resource and id (/v1/customers/cus_1/sources/card_2), so
// every other segment after the resource is an id, whatever its shape,
// and a segment elsewhere that is not a plain word is one too. The result
// has few distinct values, fit for a metric's label.
func endpointOf(path string) string {
	segments := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range segments {
		switch {
		case i < 2 && plainWord(seg):
		case i >= 2 && i%2 == 0 && !idSegments[seg]:
			segments[i] = "{id}"
		case !plainWord(seg):
			segments[i] = "{id}"
		}
	}
	return "/" + strings.Join(segments, "/")
}

// plainWord: lower-case letters, digits and underscores, as Stripe's
// resource and action names are (v1, invoiceitems, mark_uncollectible).
func plainWord(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Calls:       c.stats.calls.Load(),
		Requests:    c.stats.requests.Load(),
		Retries:     c.stats.retries.Load(),
		RateLimited: c.stats.rateLimited.Load(),
	}
}

// call is the bookkeeping of one logical call. It rides in the request's
// context so the transport can tell a retry from a first attempt (stripe-go
// resends the same request; http.Client may copy it, so identity won't do)
// and can report what the last attempt saw.
type call struct {
	started time.Time // when the method was called
	sentAt  time.Time // when the latest attempt was handed to the network
	status  int       // HTTP status of the latest attempt, 0 if none
	tries   int
}

type callKey struct{}

// begin starts a logical call. The transport runs in the caller's goroutine
// (http.Client.Do calls RoundTrip synchronously), so call needs no lock.
func (c *Client) begin(ctx context.Context) (context.Context, *call) {
	c.stats.calls.Add(1)
	st := &call{started: time.Now()}
	return context.WithValue(ctx, callKey{}, st), st
}

// version is the Version of the objects this call read: the Unix second,
// floored, at which the successful attempt was sent (see records.go).
func (st *call) version() int64 {
	if st.sentAt.IsZero() {
		return st.started.Unix()
	}
	return st.sentAt.Unix()
}

// transport paces and retries every attempt stripe-go makes.
type transport struct {
	base       http.RoundTripper
	limiter    *rate.Limiter // nil = unlimited
	stats      *counters
	maxRetries int           // 429 retries
	backoff    time.Duration // base of the 429 backoff
	timeout    time.Duration // per attempt
}

// RoundTrip sends req, waiting on the limiter before each attempt, and
// retries 429 answers with exponential backoff and jitter. stripe-go itself
// does not retry a plain rate-limit 429, and a backfill running windows in
// parallel is exactly what produces them. Retrying a POST is safe: every
// write carries an idempotency key.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	st, _ := ctx.Value(callKey{}).(*call)
	if st == nil {
		st = &call{started: time.Now()}
	}
	for retry := 0; ; retry++ {
		resp, err := t.attempt(req, retry == 0, st)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		t.stats.rateLimited.Add(1)
		if retry >= t.maxRetries || !rewindable(req) {
			return resp, nil
		}
		drain(resp)
		if err := sleep(ctx, t.delay(retry)); err != nil {
			return nil, err
		}
	}
}

// attempt sends req once, under the limiter and the per-attempt timeout.
func (t *transport) attempt(req *http.Request, first bool, st *call) (*http.Response, error) {
	ctx := req.Context()
	if err := t.wait(ctx); err != nil {
		if first && req.Body != nil {
			req.Body.Close() // RoundTrip must close the body, even on error
		}
		return nil, err
	}
	body := req.Body
	if !first && rewindable(req) && req.GetBody != nil {
		var err error
		if body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("stripeapi: rewind request body: %w", err)
		}
	}
	attemptCtx, cancel := context.WithTimeout(ctx, t.timeout)
	out := req.WithContext(attemptCtx)
	out.Body = body

	if st.tries > 0 {
		t.stats.retries.Add(1)
	}
	st.tries++
	st.sentAt = time.Now()
	t.stats.requests.Add(1)
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		cancel()
		t.stats.countAttempt(req, 0)
		return nil, err
	}
	t.stats.countAttempt(req, resp.StatusCode)
	st.status = resp.StatusCode
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// wait blocks until the limiter allows one more attempt or ctx ends.
func (t *transport) wait(ctx context.Context) error {
	if t.limiter == nil {
		return ctx.Err()
	}
	t.stats.limiterWaits.Add(1)
	if err := t.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The limiter refuses up front when the wait would outlast the
		// deadline; report it as the deadline so errors.Is finds it.
		return fmt.Errorf("stripeapi: rate limit wait would pass the deadline: %w", context.DeadlineExceeded)
	}
	return nil
}

// delay is the backoff before 429 retry number retry+1: the base doubled
// per retry (capped at 64x), half of it fixed and half random so parallel
// workers that were limited together do not come back together.
func (t *transport) delay(retry int) time.Duration {
	d := t.backoff << min(retry, 6)
	return d/2 + rand.N(d/2+1)
}

// rewindable reports whether req can be sent again: it has no body, or
// GetBody can make a fresh one.
func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// drain reads a little of a discarded answer so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// cancelOnClose ends an attempt's timeout context once its body is closed,
// not when RoundTrip returns, since stripe-go reads the body after that.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
