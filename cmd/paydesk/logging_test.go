package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"paydesk/handlers"
	"paydesk/store/storetest"
	"paydesk/stripeapi"
)

// jsonLines parses a JSON log, failing on a line that is not one object.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON log line: %q (%v)", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestLogRedaction sends requests carrying a Stripe-Signature, a session
// cookie, an Authorization header and a key, and logs errors, headers and
// text holding secrets: the JSON log holds none of them, and names the
// request id and the Stripe request id.
func TestLogRedaction(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(envOf(map[string]string{"PAYDESK_LOG_FORMAT": "json", "PAYDESK_LOG_LEVEL": "debug"}), &buf)
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.New(t)
	srv := handlers.New(handlers.Config{WebhookSecrets: []string{"whsec_configured_secret_abc"}, Intake: st, Staff: st, Mirror: st,
		Ready: storeReadiness{st: st}, SessionSecret: []byte("0123456789abcdef0123456789abcdef"), Log: log})

	const (
		signature     = "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
		sessionCookie = "MTcwMDAwMDAwMHxEdi1CQkFFQ180SUFBUkFCRUFBQVB2LUNBQUVHYzNSeWFXNW5EQWtBQjNSdmEyVnU="
		bearer        = "metrics-bearer-9f8e7d6c5b4a"
		testKey       = "sk_test_51HbogusKeyForTheLogTest0123"
		liveKey       = "rk_live_51HbogusRestrictedKey0123"
		webhookSecret = "whsec_leakedSigningSecret0123"
		password      = "correct-horse-battery-staple"
	)
	body := []byte(`{"id":"evt_redact","object":"event","api_version":"2023-10-16","created":1700000000,"livemode":false,"type":"customer.updated","data":{"object":{"id":"cus_1","object":"customer"}}}`)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", signature)
	req.Header.Set("Cookie", "paydesk_session="+sessionCookie)
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("X-Request-Id", "req-redaction-1")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || rec.Header().Get("X-Request-Id") != "req-redaction-1" {
		t.Fatalf("forged delivery: %d, X-Request-Id %q", rec.Code, rec.Header().Get("X-Request-Id"))
	}
	// The metrics route refuses the bearer (no token configured) and logs
	// the refusal.
	req = httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("X-Request-Id", "req-redaction-2")
	srv.ServeHTTP(httptest.NewRecorder(), req)

	// What careless code could log: the request itself, its headers, a
	// Stripe error, errors and text with keys and passwords in them.
	stripeErr := fmt.Errorf("event worker: re-fetch ch_1: %w", &stripeapi.Error{Message: "Invalid API Key provided: " + testKey,
		Type: "invalid_request_error", HTTPStatus: 401, RequestID: "req_StripeSide123"})
	log.Error("stripe call failed", "err", stripeErr, "request", req, "headers", req.Header)
	log.Warn("connect failed: postgres://paydesk:"+password+"@db.internal:5432/paydesk",
		"err", errors.New("using "+testKey+", "+liveKey+" and "+webhookSecret),
		slog.Group("cfg", "password", password, "note", "Cookie: paydesk_session="+sessionCookie),
		"sig", "Stripe-Signature: "+signature, "auth", "Authorization: Bearer "+bearer,
		"api_key", "anything at all", "stripe-signature", "anything else")
	log.With("session_secret", password, "dsn", "postgres://u:"+password+"@h/db").Info("with attrs")

	logs := buf.String()
	for name, secret := range map[string]string{
		"signature v1": "5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
		"signature v0": "6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
		"cookie":       sessionCookie, "bearer": bearer, "test key": testKey, "live key": liveKey,
		"webhook secret": webhookSecret, "password": password, "configured webhook secret": "whsec_configured_secret_abc",
		"api_key value": "anything at all", "stripe-signature value": "anything else",
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s:\n%s", name, logs)
		}
	}
	lines := jsonLines(t, logs)
	has := func(msg, key, want string) bool {
		for _, l := range lines {
			if strings.Contains(fmt.Sprint(l["msg"]), msg) && fmt.Sprint(l[key]) == want {
				return true
			}
		}
		return false
	}
	for _, c := range []struct{ msg, key, want string }{
		{"signature", "request_id", "req-redaction-1"}, // the refusal: "signature does not match" or "... too old"
		{"http request", "request_id", "req-redaction-1"},
		{"no metrics token is configured", "request_id", "req-redaction-2"},
		{"stripe call failed", "stripe_request_id", "req_StripeSide123"},
		{"stripe call failed", "request", "GET /metrics"},
		{"connect failed", "api_key", "[redacted]"},
	} {
		if !has(c.msg, c.key, c.want) {
			t.Errorf("no %q line with %s=%q:\n%s", c.msg, c.key, c.want, logs)
		}
	}
	// What is not secret stays readable.
	for _, keep := range []string{"db.internal:5432/paydesk", "invalid_request_error", "sk_test_[redacted]", "rk_live_[redacted]", "whsec_[redacted]", "v1=[redacted]", "Bearer [redacted]"} {
		if !strings.Contains(logs, keep) {
			t.Errorf("the log lost %q:\n%s", keep, logs)
		}
	}
}

// TestScrubLeavesPlainTextAlone: ordinary lines are not mangled.
func TestScrubLeavesPlainTextAlone(t *testing.T) {
	for _, s := range []string{
		"paydesk serve listening",
		"store: load session: sql: no rows in result set",
		"SESSION_SECRET is not set: using a random one, so sessions end on restart",
		"event worker: batch failed; retrying its events one by one",
		"http://127.0.0.1:8080/charges/ch_1?status=succeeded",
		"customer cus_NffrFeUfNV2Hib updated",
	} {
		if got := scrub(s); got != s {
			t.Errorf("scrub(%q) = %q", s, got)
		}
	}
}

func TestNewLoggerConfig(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // "" for no error
	}{
		{map[string]string{}, ""},
		{map[string]string{"PAYDESK_LOG_FORMAT": "JSON", "PAYDESK_LOG_LEVEL": "Warn"}, ""},
		{map[string]string{"PAYDESK_LOG_FORMAT": "logfmt"}, "PAYDESK_LOG_FORMAT: want json"},
		{map[string]string{"PAYDESK_LOG_LEVEL": "loud"}, "PAYDESK_LOG_LEVEL: want debug"},
	} {
		_, err := newLogger(envOf(tc.env), &bytes.Buffer{})
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.env, err, tc.want)
		}
	}
	// Levels filter; the format is as asked.
	var buf bytes.Buffer
	log, _ := newLogger(envOf(map[string]string{"PAYDESK_LOG_FORMAT": "json", "PAYDESK_LOG_LEVEL": "warn"}), &buf)
	log.Info("quiet")
	log.Warn("loud", "n", 1)
	lines := jsonLines(t, buf.String())
	if len(lines) != 1 || lines[0]["msg"] != "loud" || lines[0]["level"] != "WARN" {
		t.Errorf("json at warn: %q", buf.String())
	}
	buf.Reset()
	log, _ = newLogger(envOf(map[string]string{"PAYDESK_LOG_FORMAT": "text"}), &buf)
	log.Info("hello", "n", 1)
	if !strings.Contains(buf.String(), `level=INFO msg=hello n=1`) {
		t.Errorf("text: %q", buf.String())
	}

	// A bad value stops the binary with one line naming the variable.
	r := paydesk(t, map[string]string{"PAYDESK_LOG_LEVEL": "loud"}, "version")
	if r.code != 2 || !strings.Contains(r.stderr, "PAYDESK_LOG_LEVEL") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("bad PAYDESK_LOG_LEVEL: %+v", r)
	}
}

// TestMigrateShowsNoPassword runs paydesk migrate against a database URL
// that holds a password and reaches nothing: the failure does not show the
// password.
func TestMigrateShowsNoPassword(t *testing.T) {
	const password = "hunter2-not-in-logs"
	r := paydesk(t, map[string]string{"PAYDESK_LOG_FORMAT": "json",
		"DATABASE_URL": "postgres://paydesk:" + password + "@127.0.0.1:1/paydesk?connect_timeout=2"}, "migrate")
	if r.code == 0 {
		t.Fatalf("migrate against nothing succeeded: %+v", r)
	}
	if strings.Contains(r.stderr+r.stdout, password) {
		t.Errorf("the output holds the database password:\n%s%s", r.stdout, r.stderr)
	}
}
