package stripemock

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Recorder is a recording proxy that stands between paydesk and a Stripe
// API (in tests, a stripe-mock that Start started): it records every
// request, passes it on, and can hold or refuse the requests a pattern
// matches, as Stripe does when it is slow or refuses one.
//
// It is test infrastructure, like Start: the tests of the Stripe actions
// (handlers' and cmd/paydesk's) put it in front of stripe-mock. It lives
// in a non-test file only so that the tests of several packages can share
// it; paydesk itself never uses it.
//
// Patterns name requests as "[METHOD ]PATH", where PATH is an exact path
// ("/v1/customers"), a prefix ending in "*" ("/v1/refunds*"), a suffix
// beginning with "*" ("*/finalize"), or "*" for every path; without a
// method every method matches. So "POST /v1/invoices" is only the
// creation, "POST /v1/invoice*" every POST to invoices and invoice items,
// "*" every request.
type Recorder struct {
	// URL is the proxy's base URL, e.g. http://127.0.0.1:41235: the API
	// base to give the client instead of the upstream's.
	URL string

	srv   *http.Server
	proxy *httputil.ReverseProxy
	// mock, when StartRecorder started it, stops with the Recorder.
	mock *Mock

	mu       sync.Mutex
	requests []Request
	delays   []delayRule
	refusals []refusalRule
}

// Request is one request the Recorder got.
type Request struct {
	Method, Path, IdempotencyKey string
	// Form is the form-encoded body (empty for a GET).
	Form url.Values
}

type delayRule struct {
	pattern string
	match   matcher
	delay   time.Duration
}

type refusalRule struct {
	pattern string
	match   matcher
	status  int
	body    string
}

// DefaultRefusal is the body of a refusal given none: Stripe's shape of
// an error.
const DefaultRefusal = `{"error":{"type":"api_error","message":"Refused by the test's recorder."}}`

// RefusalRequestID is the Request-Id header of every refusal, so a test
// can find it where paydesk keeps Stripe's request ids.
const RefusalRequestID = "req_refused"

// NewRecorder starts a Recorder on a free loopback port in front of the
// API at upstreamURL (e.g. a Mock's URL). Stop it with Close.
func NewRecorder(upstreamURL string) (*Recorder, error) {
	target, err := url.Parse(upstreamURL)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return nil, fmt.Errorf("stripemock: recorder: upstream %q is not a base URL", upstreamURL)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("stripemock: recorder: %w", err)
	}
	r := &Recorder{URL: "http://" + ln.Addr().String(), proxy: httputil.NewSingleHostReverseProxy(target)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// StartRecorder starts stripe-mock (see Start) with a Recorder in front of
// it. The Recorder's Close stops both.
func StartRecorder(ctx context.Context) (*Recorder, error) {
	mock, err := Start(ctx)
	if err != nil {
		return nil, err
	}
	r, err := NewRecorder(mock.URL)
	if err != nil {
		mock.Close()
		return nil, err
	}
	r.mock = mock
	return r, nil
}

func (r *Recorder) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	form, _ := url.ParseQuery(string(body))
	r.mu.Lock()
	r.requests = append(r.requests, Request{req.Method, req.URL.Path, req.Header.Get("Idempotency-Key"), form})
	var delay time.Duration
	for _, d := range r.delays {
		if d.match(req.Method, req.URL.Path) {
			delay = max(delay, d.delay)
		}
	}
	var refusal *refusalRule
	for i := range r.refusals {
		if r.refusals[i].match(req.Method, req.URL.Path) {
			refusal = &r.refusals[i]
		}
	}
	var status int
	var answer string
	if refusal != nil {
		status, answer = refusal.status, refusal.body
	}
	r.mu.Unlock()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	if status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", RefusalRequestID)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.proxy.ServeHTTP(w, req)
}

// Close stops the Recorder, waiting a little for the requests in flight,
// and then the stripe-mock StartRecorder started (an upstream given to
// NewRecorder is left running).
func (r *Recorder) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = r.srv.Close()
	}
	r.mock.Close()
}

// Requests are the requests recorded since the start or the last Reset,
// in the order they came.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Calls are the recorded requests that pattern matches, in order.
func (r *Recorder) Calls(pattern string) []Request {
	match := compile(pattern)
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Request
	for _, req := range r.requests {
		if match(req.Method, req.Path) {
			out = append(out, req)
		}
	}
	return out
}

// Delay holds each request pattern matches for d before answering or
// refusing it (so that concurrent submissions are in flight together);
// with several matching, the longest. A d of 0 removes pattern's delay.
func (r *Recorder) Delay(pattern string, d time.Duration) {
	match := compile(pattern)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delays = removeRule(r.delays, func(x delayRule) bool { return x.pattern == pattern })
	if d > 0 {
		r.delays = append(r.delays, delayRule{pattern, match, d})
	}
}

// Refuse answers each request pattern matches with status and body
// (DefaultRefusal if ""), a JSON Content-Type and the Request-Id
// RefusalRequestID, instead of passing it on; the request is still
// recorded. With several matching, the one set last. A status of 0
// removes pattern's refusal.
func (r *Recorder) Refuse(pattern string, status int, body string) {
	match := compile(pattern)
	if body == "" {
		body = DefaultRefusal
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refusals = removeRule(r.refusals, func(x refusalRule) bool { return x.pattern == pattern })
	if status != 0 {
		r.refusals = append(r.refusals, refusalRule{pattern, match, status, body})
	}
}

// Reset forgets the recorded requests and removes every delay and
// refusal.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests, r.delays, r.refusals = nil, nil, nil
}

func removeRule[T any](rules []T, same func(T) bool) []T {
	out := rules[:0]
	for _, x := range rules {
		if !same(x) {
			out = append(out, x)
		}
	}
	return out
}

type matcher func(method, path string) bool

// compile turns a pattern (see Recorder) into its matcher; a malformed
// pattern is a mistake in the test and panics.
func compile(pattern string) matcher {
	method, path := "", pattern
	if m, p, ok := strings.Cut(pattern, " "); ok {
		method, path = m, p
	}
	bad := func() {
		panic(fmt.Sprintf("stripemock: recorder pattern %q: want [METHOD ]PATH with PATH /exact, /prefix*, *suffix or *", pattern))
	}
	if method != "" && strings.ToUpper(method) != method {
		bad()
	}
	switch {
	case path == "*":
		return func(m, _ string) bool { return method == "" || m == method }
	case strings.HasPrefix(path, "*"):
		suffix := path[1:]
		if strings.Contains(suffix, "*") {
			bad()
		}
		return func(m, p string) bool { return (method == "" || m == method) && strings.HasSuffix(p, suffix) }
	case strings.HasPrefix(path, "/") && strings.HasSuffix(path, "*"):
		prefix := strings.TrimSuffix(path, "*")
		if strings.Contains(prefix, "*") {
			bad()
		}
		return func(m, p string) bool { return (method == "" || m == method) && strings.HasPrefix(p, prefix) }
	case strings.HasPrefix(path, "/") && !strings.Contains(path, "*"):
		return func(m, p string) bool { return (method == "" || m == method) && p == path }
	}
	bad()
	return nil
}
