package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"paydesk/store/storetest"
	"paydesk/stripeapi"
)

const serveSecret = "whsec_cmd_serve_test"

// listeningLine finds serve's address in its first log line, in either
// log format (JSON by default, text for the demo).
var listeningLine = regexp.MustCompile(`msg="paydesk serve listening" addr=(\S+)|"msg":"paydesk serve listening","addr":"([^"]+)"`)

// serving is a running `paydesk serve`.
type serving struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{} // closed when stderr has ended
}

func (s *serving) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// startServe starts the process and waits for its listening line.
func startServe(t testing.TB, env map[string]string, args ...string) *serving {
	t.Helper()
	s := &serving{cmd: processFor(env, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...), done: make(chan struct{})}
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		r := bufio.NewReader(pipe)
		for {
			line, err := r.ReadString('\n')
			s.mu.Lock()
			s.stderr.WriteString(line)
			s.mu.Unlock()
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				addr <- m[1] + m[2]
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-s.done:
		t.Fatalf("serve ended before listening:\n%s", s.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not log its address:\n%s", s.log())
	}
	return s
}

func TestServeReceivesWebhooksAndStopsOnSIGTERM(t *testing.T) {
	st, dbURL := storetest.NewWithURL(t)
	env := map[string]string{
		"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": "sk_test_123",
		"STRIPE_API_BASE": "http://127.0.0.1:1", "STRIPE_WEBHOOK_SECRET": "whsec_retired, " + serveSecret,
	}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	s := startServe(t, env)
	client := &http.Client{Timeout: 10 * time.Second}

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := client.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: %d, X-Frame-Options %q", path, resp.StatusCode, resp.Header.Get("X-Frame-Options"))
		}
	}

	body := []byte(`{"id":"evt_serve_1","object":"event","api_version":"2023-10-16","created":1700000000,"livemode":false,` +
		`"type":"customer.updated","data":{"object":{"id":"cus_serve_1","object":"customer","name":"Ada"}}}`)
	req, _ := http.NewRequest(http.MethodPost, s.base+"/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", stripeapi.SignWebhook(body, serveSecret, time.Now()))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(answer) != `{"received":true}` {
		t.Fatalf("webhook: %d %q\n%s", resp.StatusCode, answer, s.log())
	}
	// Only intake is checked: whether a worker applies the event depends
	// on Stripe, which these tests leave unreachable.
	if _, err := st.Event(context.Background(), "evt_serve_1"); err != nil {
		t.Fatalf("event not stored: %v", err)
	}

	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { <-s.done; exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, s.log())
		}
	case <-time.After(25 * time.Second):
		t.Fatalf("still running 25 s after SIGTERM:\n%s", s.log())
	}
	t.Logf("stopped %s after SIGTERM:\n%s", time.Since(start).Round(time.Millisecond), s.log())
	log := s.log()
	for _, secretish := range []string{serveSecret, "sk_test_123", dbURL} {
		if strings.Contains(log, secretish) {
			t.Errorf("the log holds %q:\n%s", secretish, log)
		}
	}
	if strings.Contains(log, "refuses every delivery") {
		t.Errorf("warned about a missing secret that is set:\n%s", log)
	}
}

func TestServeWarnsWithoutWebhookSecret(t *testing.T) {
	_, dbURL := storetest.NewWithURL(t)
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": "sk_test_123", "STRIPE_API_BASE": "http://127.0.0.1:1"}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	s := startServe(t, env, "--workers", "0")
	if !strings.Contains(s.log(), "webhook route refuses every delivery until STRIPE_WEBHOOK_SECRET is set") {
		t.Errorf("no warning:\n%s", s.log())
	}
	resp, err := http.Post(s.base+"/webhooks/stripe", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("webhook without a secret: %d, want 503", resp.StatusCode)
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	<-s.done
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("after SIGINT: %v\n%s", err, s.log())
	}
}

func TestServeRefusesToStart(t *testing.T) {
	st, dbURL := storetest.NewWithURL(t)
	if _, err := st.DB().ExecContext(context.Background(), `DROP TABLE goose_db_version`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": "sk_test_123", "STRIPE_API_BASE": "http://127.0.0.1:1"}
	oneLine(t, paydesk(t, env, "serve", "--addr", "127.0.0.1:0"), "run paydesk migrate first")

	r := paydesk(t, map[string]string{"STRIPE_TEST_SECRET_KEY": "sk_test_123"}, "serve", "--addr", "127.0.0.1:0")
	oneLine(t, r, "DATABASE_URL")
	if r.code != 2 {
		t.Errorf("without DATABASE_URL: exit %d, want 2", r.code)
	}

	oneLine(t, paydesk(t, map[string]string{"DATABASE_URL": dbURL}, "serve"), "STRIPE_TEST_SECRET_KEY: required")
	oneLine(t, paydesk(t, nil, "serve", "--addr", "nonsense"), "--addr: want host:port")
	oneLine(t, paydesk(t, nil, "serve", "--workers", "-1"), "--workers")

	if r := paydesk(t, nil, "serve", "--help"); r.code != 0 || !strings.Contains(r.stderr, "Usage: paydesk serve") {
		t.Errorf("serve --help: %+v", r)
	}
}
