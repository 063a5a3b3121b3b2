package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// A whole `paydesk serve` process: staff sign in and out, fail to sign in,
// and an admin resets a password, while the process logs. No password,
// session secret, session cookie or Stripe key appears in what it logged.
func TestServeLogsNoSecrets(t *testing.T) {
	st, dbURL := storetest.NewWithURL(t)
	const (
		sessionSecret = "session-secret-for-the-log-test-0123456789"
		stripeKey     = "sk_test_log_redaction_key_51Hx"
		password      = "staff password never logged"
		wrong         = "a wrong password never logged"
	)
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": stripeKey,
		"STRIPE_API_BASE": "http://127.0.0.1:1", "STRIPE_WEBHOOK_SECRET": serveSecret, "SESSION_SECRET": sessionSecret}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	hash, err := store.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.AddUser(ctx, "admin@example.com", "Admin", store.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}
	clerk, err := st.AddUser(ctx, "clerk@example.com", "Clerk", store.RoleSupport, hash)
	if err != nil {
		t.Fatal(err)
	}
	s := startServe(t, env)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		resp, err := client.PostForm(s.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if code, _ := post("/login", url.Values{"email": {"admin@example.com"}, "password": {wrong}}); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", code)
	}
	if code, body := post("/login", url.Values{"email": {"admin@example.com"}, "password": {password}}); code != http.StatusOK || !strings.Contains(body, "Overview") {
		t.Fatalf("sign in: %d\n%s", code, body)
	}
	var cookie string
	base, _ := url.Parse(s.base)
	for _, c := range jar.Cookies(base) {
		if c.Name == "paydesk_session" {
			cookie = c.Value
		}
	}
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	code, body := post("/admin/users/"+strconv.FormatInt(clerk.ID, 10)+"/password", url.Values{})
	_, rest, ok := strings.Cut(body, `<code class="secret"`)
	_, rest, _ = strings.Cut(rest, ">")
	generated, _, _ := strings.Cut(rest, "</code>")
	if code != http.StatusOK || !ok || generated == "" {
		t.Fatalf("reset password: %d\n%s", code, body)
	}
	if code, _ := post("/logout", url.Values{}); code != http.StatusOK {
		t.Fatalf("sign out: %d", code)
	}
	logs := s.log()
	for _, secret := range []string{sessionSecret, stripeKey, password, wrong, generated, cookie, hash} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret (%.12s…):\n%s", secret, logs)
		}
	}
}
