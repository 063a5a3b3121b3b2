package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

const testKey = "sk_test_51SECRETSECRETSECRET"

func TestConfigValid(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "live")
	if err := os.WriteFile(keyFile, []byte("rk_live_FROMFILE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(envOf(map[string]string{
		"DATABASE_URL":                "postgres://u:pw@localhost:5432/paydesk",
		"STRIPE_TEST_SECRET_KEY":      testKey,
		"STRIPE_LIVE_SECRET_KEY_FILE": keyFile,
		"STRIPE_LIVE_MODE":            "true",
		"STRIPE_WEBHOOK_SECRET":       "whsec_old, whsec_new",
		"STRIPE_API_BASE":             "http://localhost:12111/",
		"PAYDESK_ADDR":                "127.0.0.1:9000",
		"PAYDESK_TIMEZONE":            "Europe/Berlin",
	}))
	if err != nil {
		t.Fatal(err)
	}
	key, name := c.stripeKey()
	if key != "rk_live_FROMFILE" || name != "STRIPE_LIVE_SECRET_KEY" {
		t.Fatalf("live key = %q from %s", string(key), name)
	}
	if c.Location.String() != "Europe/Berlin" {
		t.Fatalf("location = %v", c.Location)
	}
	if len(c.WebhookSecrets) != 2 || c.WebhookSecrets[1] != "whsec_new" || c.APIBase != "http://localhost:12111" || c.Addr != "127.0.0.1:9000" {
		t.Fatalf("config = %#v", c)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"STRIPE_LIVE_MODE": "yes please"}, "STRIPE_LIVE_MODE: want true or false"},
		{map[string]string{"STRIPE_LIVE_MODE": "true", "STRIPE_TEST_SECRET_KEY": testKey}, "STRIPE_LIVE_SECRET_KEY: required when STRIPE_LIVE_MODE=true"},
		{map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL: want a URL"},
		{map[string]string{"STRIPE_TEST_SECRET_KEY": "sk_live_oops"}, "STRIPE_TEST_SECRET_KEY: want a test-mode"},
		{map[string]string{"STRIPE_WEBHOOK_SECRET": "nope"}, "STRIPE_WEBHOOK_SECRET: want signing secrets"},
		{map[string]string{"STRIPE_API_BASE": "localhost"}, "STRIPE_API_BASE: want an http(s) URL"},
		{map[string]string{"PAYDESK_ADDR": "8080"}, "PAYDESK_ADDR: want host:port"},
		{map[string]string{"SESSION_SECRET": "short"}, "SESSION_SECRET: want at least 32"},
		{map[string]string{"PAYDESK_TIMEZONE": "Mars/Olympus"}, "PAYDESK_TIMEZONE: want an IANA time zone"},
		{map[string]string{"PAYDESK_TIMEZONE": "Local"}, "PAYDESK_TIMEZONE: want an IANA time zone"},
		{map[string]string{"STRIPE_TEST_SECRET_KEY": testKey, "STRIPE_TEST_SECRET_KEY_FILE": "/x"}, "STRIPE_TEST_SECRET_KEY: set either"},
		{map[string]string{"SESSION_SECRET_FILE": "/does/not/exist"}, "SESSION_SECRET_FILE: cannot read"},
	}
	for _, tc := range cases {
		_, err := loadConfig(envOf(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %v: err = %v, want %q", tc.env, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error is more than one line: %q", err)
		}
		for _, v := range tc.env {
			if strings.HasPrefix(v, "sk_") && strings.Contains(err.Error(), v) {
				t.Errorf("error leaks a key: %q", err)
			}
		}
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{"STRIPE_TEST_SECRET_KEY": testKey, "DATABASE_URL": "postgres://u:hunter2@h/db"}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", c, "key", c.TestKey)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", c, "key", c.TestKey)
	fmt.Fprintf(&buf, "%v %+v %#v %s", c, c, c, c.TestKey)
	if out := buf.String(); strings.Contains(out, "SECRETSECRET") || strings.Contains(out, "hunter2") {
		t.Fatalf("a secret was printed: %s", out)
	}
}

// serve's pool: PAYDESK_DB_CONNS when set and sane, else about two a
// processor and never fewer than its workers need.
func TestDBConns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	cases := []struct {
		value   string
		workers int
		want    int
	}{
		{"", 2, 9},
		{"", 40, 43},
		{"12", 2, 12},
		{"1", 0, 1},
	}
	for _, tc := range cases {
		got, err := dbConns(envOf(map[string]string{"PAYDESK_DB_CONNS": tc.value}), tc.workers)
		if err != nil || got != tc.want {
			t.Errorf("PAYDESK_DB_CONNS=%q with %d workers: %d, %v; want %d", tc.value, tc.workers, got, err, tc.want)
		}
	}
	for _, bad := range []string{"0", "-3", "many", "1.5", "1001"} {
		_, err := dbConns(envOf(map[string]string{"PAYDESK_DB_CONNS": bad}), 2)
		if err == nil || !strings.Contains(err.Error(), "PAYDESK_DB_CONNS: want a whole number") {
			t.Errorf("PAYDESK_DB_CONNS=%q: err = %v", bad, err)
		}
	}
}
