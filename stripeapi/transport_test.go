package stripeapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

const rateLimitBody = `{"error":{"type":"rate_limit_error","code":"rate_limit","message":"Too many requests"}}`

const customerList = `{"object":"list","url":"/v1/customers","has_more":false,"data":[{"id":"cus_1","object":"customer","livemode":false,"created":1700000000,"balance":0}]}`

// limitedServer answers 429 to the first n requests, then ok.
func limitedServer(t *testing.T, n int32, ok string) (*httptest.Server, *atomic.Int32) {
	var seen atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= n {
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(rateLimitBody))
			return
		}
		w.Write([]byte(ok))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestRateLimitedListIsRetried(t *testing.T) {
	srv, seen := limitedServer(t, 2, customerList)
	c := newClient(t, srv.URL)
	page, err := c.Customers.List(context.Background(), ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].ID != "cus_1" {
		t.Errorf("page %+v", page)
	}
	want := Stats{Calls: 1, Requests: 3, Retries: 2, RateLimited: 2}
	if got := c.Stats(); got != want || seen.Load() != 3 {
		t.Errorf("stats %+v (server saw %d), want %+v", got, seen.Load(), want)
	}
}

func TestRateLimitRetriesRunOut(t *testing.T) {
	srv, _ := limitedServer(t, 100, customerList)
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.RateLimitRetries = 2 })
	_, err := c.Customers.List(context.Background(), ListParams{})
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != http.StatusTooManyRequests || !e.Retryable || e.Code != "rate_limit" {
		t.Fatalf("got %T %v", err, err)
	}
	if got := c.Stats(); got.Requests != 3 || got.RateLimited != 3 || got.Retries != 2 {
		t.Errorf("stats %+v", got)
	}
}

// A retried write must resend the same body under the same idempotency key.
func TestRateLimitedWriteResendsBody(t *testing.T) {
	var mu sync.Mutex
	var bodies, keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		first := len(bodies) == 1
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(rateLimitBody))
			return
		}
		w.Write([]byte(`{"id":"re_1","object":"refund","amount":250,"currency":"usd","created":1}`))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	ref, err := c.Refunds.Create(context.Background(), "refund-ch_1-1", RefundCreate{Charge: "ch_1", Amount: 250})
	if err != nil {
		t.Fatal(err)
	}
	if ref.ID != "re_1" || ref.Amount != 250 {
		t.Errorf("refund %+v", ref)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || bodies[0] == "" || bodies[0] != bodies[1] || keys[0] != "refund-ch_1-1" || keys[1] != keys[0] {
		t.Errorf("bodies %q, keys %q", bodies, keys)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	srv, _ := limitedServer(t, 100, customerList)
	// An hour of backoff: only the cancel can end this call.
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.RetryBackoff = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Once the 429 is counted the transport is backing off.
		for c.Stats().RateLimited == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := c.Customers.List(ctx, ListParams{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %T %v, want context.Canceled", err, err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Type != "network_error" || e.Retryable {
		t.Errorf("got %T %v", err, err)
	}
	if got := c.Stats(); got.Requests != 1 || got.RateLimited != 1 || got.Retries != 0 {
		t.Errorf("stats %+v", got)
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	tr := &transport{backoff: 100 * time.Millisecond}
	for retry := range 10 {
		full := tr.backoff << min(retry, 6)
		for range 50 {
			if d := tr.delay(retry); d < full/2 || d > full {
				t.Fatalf("retry %d: delay %v outside [%v, %v]", retry, d, full/2, full)
			}
		}
	}
}

// The limiter guards every attempt. The count of waits is exact; the time
// is only checked from below, which cannot flake.
func TestRequestsPerSecond(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(customerList))
	}))
	defer srv.Close()
	const rps = 20
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.RequestsPerSecond = rps })
	tr := backendTransport(t, c)
	if burst := tr.limiter.Burst(); burst != rps {
		t.Fatalf("burst %d, want %d", burst, rps)
	}

	const n = rps + 6 // the burst passes at once, the rest at rps
	start := time.Now()
	for range n {
		if _, err := c.Customers.List(context.Background(), ListParams{}); err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	if waits := c.stats.limiterWaits.Load(); waits != n {
		t.Errorf("%d limiter waits for %d requests", waits, n)
	}
	if floor := time.Duration(n-rps) * time.Second / rps; elapsed < floor {
		t.Errorf("%d requests took %v, less than %v at %d/s", n, elapsed, floor, rps)
	}
}

func TestLimiterWaitHonoursContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(customerList))
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.RequestsPerSecond = 0.001 }) // one token, then ~17 minutes
	if _, err := c.Customers.List(context.Background(), ListParams{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Customers.List(ctx, ListParams{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %T %v, want context.DeadlineExceeded", err, err)
	}
	if got := c.Stats(); got.Requests != 1 {
		t.Errorf("stats %+v, want the second call held back", got)
	}
}

// backendTransport digs the transport out of the client for inspection.
func backendTransport(t *testing.T, c *Client) *transport {
	t.Helper()
	impl, ok := c.backend.(*stripe.BackendImplementation)
	if !ok {
		t.Fatalf("backend is %T", c.backend)
	}
	return impl.HTTPClient.Transport.(*transport)
}
