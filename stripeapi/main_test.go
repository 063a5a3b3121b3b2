package stripeapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"paydesk/stripeapi/stripemock"
)

// mockURL is the stripe-mock every test in the package shares; it keeps no
// state, so sharing is safe.
var mockURL string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	mock, err := stripemock.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stripeapi tests:", err)
		os.Exit(1)
	}
	mockURL = mock.URL
	code := m.Run()
	mock.Close()
	os.Exit(code)
}

const testKey = "sk_test_123"

// newClient builds a client against base with test-friendly settings: no
// stripe-go network retries (they sleep 500ms), tiny 429 backoff.
func newClient(t *testing.T, base string, tweak ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		SecretKey:        testKey,
		APIBase:          base,
		RateLimitRetries: 5,
		RetryBackoff:     time.Millisecond,
		Timeout:          10 * time.Second,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logBuffer is a concurrency-safe buffer for a test logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestAPIVersionMatchesStripeGo(t *testing.T) {
	if APIVersion != stripe.APIVersion {
		t.Fatalf("APIVersion %q, stripe-go pins %q", APIVersion, stripe.APIVersion)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no key":            {},
		"test key in live":  {SecretKey: "sk_test_abc", LiveMode: true},
		"live key in test":  {SecretKey: "rk_live_abc"},
		"negative throttle": {SecretKey: "sk_test_abc", RequestsPerSecond: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
	c, err := New(Config{SecretKey: "sk_live_abc", LiveMode: true})
	if err != nil || !c.LiveMode() {
		t.Fatalf("live client: %v, LiveMode %v", err, c != nil && c.LiveMode())
	}
}
