package stripefake

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server.
type Options struct {
	// SecretKey is the only API key accepted; any other answers 401. Empty
	// means "sk_test_123", stripe-mock's example key.
	SecretKey string
	// RateLimit429Every, if > 0, makes every Nth request (by arrival count)
	// answer 429 rate_limit_error instead of being served.
	RateLimit429Every int
	// OnRequest, if set, is called with each request and its 1-based count
	// before it is answered; tests use it to kill a client midway.
	OnRequest func(n int64, r *http.Request)
	// Latency is slept before answering each request.
	Latency time.Duration
}

// Server is the fake API over HTTP on 127.0.0.1.
type Server struct {
	// URL is the API base, e.g. http://127.0.0.1:41234 (paths start /v1/).
	URL string

	d      *Data
	o      Options
	hs     *httptest.Server
	n      atomic.Int64 // requests received
	served atomic.Int64 // requests answered 200

	logMu sync.Mutex
	log   []string
}

// NewServer starts serving d. Stop it with Close.
func NewServer(d *Data, o Options) *Server {
	if o.SecretKey == "" {
		o.SecretKey = "sk_test_123"
	}
	s := &Server{d: d, o: o}
	s.hs = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.hs.URL
	return s
}

// Close stops the server, waiting for requests in flight.
func (s *Server) Close() { s.hs.Close() }

// Requests is how many requests the server has answered, errors included.
func (s *Server) Requests() int64 { return s.n.Load() }

// Served is how many requests were answered with 200, so a test can tell
// real work from 401s, 429s and other errors.
func (s *Server) Served() int64 { return s.served.Load() }

// Log returns one "METHOD /path?query" line per request in arrival order.
// The query is re-encoded with sorted keys (brackets escaped, as
// url.Values.Encode does) so lines compare equal whatever order a client
// sent its parameters in.
func (s *Server) Log() []string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]string(nil), s.log...)
}

// ResetLog empties the log; the request count keeps running.
func (s *Server) ResetLog() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	line := r.Method + " " + r.URL.Path
	if q := r.URL.Query().Encode(); q != "" {
		line += "?" + q
	}
	// Count and log under one lock so the log order matches the counts.
	s.logMu.Lock()
	n := s.n.Add(1)
	s.log = append(s.log, line)
	s.logMu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", "req_"+strconv.FormatInt(n, 10))
	h.Set("Stripe-Version", APIVersion)
	if s.o.OnRequest != nil {
		s.o.OnRequest(n, r)
	}
	if s.o.Latency > 0 {
		select {
		case <-time.After(s.o.Latency):
		case <-r.Context().Done():
		}
	}
	body, err := s.answer(n, r)
	if err != nil {
		w.WriteHeader(err.status)
		_, _ = w.Write(err.body())
		return
	}
	s.served.Add(1)
	_, _ = w.Write(body)
}

// answer runs the checks in the order Stripe's edge would (throttle, key,
// version, route) and returns the body to send or the error.
func (s *Server) answer(n int64, r *http.Request) ([]byte, *apiError) {
	if every := int64(s.o.RateLimit429Every); every > 0 && n%every == 0 {
		return nil, &apiError{status: http.StatusTooManyRequests, Type: "rate_limit_error",
			Code: "rate_limit", Message: "Too many requests"}
	}
	if err := s.checkKey(r); err != nil {
		return nil, err
	}
	if v := r.Header.Get("Stripe-Version"); v != APIVersion {
		return nil, invalidParam("", "Invalid Stripe API version: %q. This fake serves only %s.", v, APIVersion)
	}
	if r.Method != http.MethodGet {
		return nil, &apiError{status: http.StatusMethodNotAllowed, Type: "invalid_request_error",
			Message: "Unrecognized request URL (" + r.Method + ": " + r.URL.Path + "). This fake is read-only: change its data with Data.Put."}
	}
	return s.route(r)
}

func (s *Server) checkKey(r *http.Request) *apiError {
	auth := r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		if user, _, basic := r.BasicAuth(); basic {
			key, ok = user, true
		}
	}
	if !ok || key == "" {
		return &apiError{status: http.StatusUnauthorized, Type: "invalid_request_error",
			Message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."}
	}
	if key != s.o.SecretKey {
		return &apiError{status: http.StatusUnauthorized, Type: "invalid_request_error",
			Message: "Invalid API Key provided: " + maskKey(key)}
	}
	return nil
}

// maskKey hides all but the key's prefix and last four characters, as
// Stripe's message does, so a leaked log line never holds a whole key.
func maskKey(key string) string {
	prefix := ""
	if i := strings.LastIndexByte(key, '_'); i >= 0 && i < len(key)-4 {
		prefix = key[:i+1]
	}
	last := ""
	if len(key)-len(prefix) > 4 {
		last = key[len(key)-4:]
	}
	return prefix + "****" + last
}
