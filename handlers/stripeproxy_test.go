package handlers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"paydesk/stripeapi"
	"paydesk/stripeapi/stripemock"
)

// stripeProxy is stripeRecorder (refunds_test.go) for any endpoint: it
// stands between paydesk and stripe-mock (strict version mode), records
// every request, and can hold or refuse the requests to a path.
type stripeProxy struct {
	mu       sync.Mutex
	requests []recordedRequest
	// rules by "METHOD /path suffix": a delay, and a status and body to
	// answer instead of stripe-mock.
	rules map[string]proxyRule
}

type proxyRule struct {
	delay  time.Duration
	status int
	body   string
}

// newStripeProxy starts stripe-mock behind a stripeProxy and returns a
// connector reaching it through the proxy.
func newStripeProxy(t *testing.T) (*stripeProxy, *stripeapi.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mock, err := stripemock.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mock.Close)
	target, _ := url.Parse(mock.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	p := &stripeProxy{rules: map[string]proxyRule{}}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		p.mu.Lock()
		p.requests = append(p.requests, recordedRequest{r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"), form})
		var rule proxyRule
		for k, v := range p.rules {
			method, suffix, _ := strings.Cut(k, " ")
			if method == r.Method && strings.HasSuffix(r.URL.Path, suffix) {
				rule = v
			}
		}
		p.mu.Unlock()
		time.Sleep(rule.delay)
		if rule.status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Request-Id", "req_refused")
			w.WriteHeader(rule.status)
			_, _ = io.WriteString(w, rule.body)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	api, err := stripeapi.New(stripeapi.Config{SecretKey: "sk_test_123", APIBase: front.URL})
	if err != nil {
		t.Fatal(err)
	}
	return p, api
}

// set installs (or, with the zero rule, removes) the rule of
// "METHOD /path-suffix".
func (p *stripeProxy) set(key string, rule proxyRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rule == (proxyRule{}) {
		delete(p.rules, key)
		return
	}
	p.rules[key] = rule
}

// calls are the recorded requests of method whose path matches: exactly,
// or by suffix when path starts with "*".
func (p *stripeProxy) calls(method, path string) []recordedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []recordedRequest
	for _, r := range p.requests {
		if r.Method != method {
			continue
		}
		if suffix, ok := strings.CutPrefix(path, "*"); ok && strings.HasSuffix(r.Path, suffix) || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (p *stripeProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = nil
}
