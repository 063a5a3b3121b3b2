package handlers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/store/storetest"
)

const testPassword = "correct horse battery staple"

// staffEnv is a Server over a real database with one user per role.
type staffEnv struct {
	t     *testing.T
	st    *store.Store
	srv   *handlers.Server
	users map[store.Role]store.User
	logs  *bytes.Buffer
}

func newStaffEnv(t *testing.T, c handlers.Config) *staffEnv {
	t.Helper()
	st := storetest.New(t)
	logs := &bytes.Buffer{}
	c.Intake, c.Ready, c.Staff = st, readyFunc(alwaysReady), st
	c.WebhookSecrets = []string{secretOld}
	c.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := &staffEnv{t: t, st: st, srv: handlers.New(withStaff(t, c)), users: map[store.Role]store.User{}, logs: logs}
	for _, role := range store.Roles {
		e.users[role] = e.addUser(string(role)+"@example.com", role)
	}
	return e
}

func (e *staffEnv) addUser(email string, role store.Role) store.User {
	e.t.Helper()
	hash, err := store.HashPassword(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.st.AddUser(context.Background(), email, "", role, hash)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// do sends a request through the whole handler with the given cookies.
func (e *staffEnv) do(method, target string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	e.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, target, body)
	req.RemoteAddr = "198.51.100.4:50000"
	if strings.HasPrefix(target, "/live") {
		// The live stream runs until its client leaves: leave soon.
		ctx, cancel := context.WithTimeout(req.Context(), 200*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

// login signs in through the form and returns the session cookie.
func (e *staffEnv) login(email, password string, cookies ...*http.Cookie) (*httptest.ResponseRecorder, *http.Cookie) {
	e.t.Helper()
	rec := e.do(http.MethodPost, "/login", url.Values{"email": {email}, "password": {password}, "next": {"/"}}, cookies...)
	return rec, sessionCookie(rec)
}

func sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == "paydesk_session" {
			return c
		}
	}
	return nil
}

func (e *staffEnv) mustLogin(role store.Role) *http.Cookie {
	e.t.Helper()
	rec, c := e.login(e.users[role].Email, testPassword)
	if rec.Code != http.StatusSeeOther || c == nil || c.Value == "" {
		e.t.Fatalf("login as %s: %d %s", role, rec.Code, rec.Body)
	}
	return c
}

// parsedPage fetches path with cookie and parses it, failing unless it
// answers want.
func (e *staffEnv) parsedPage(cookie *http.Cookie, path string, want int) *goquery.Document {
	e.t.Helper()
	rec := e.do(http.MethodGet, path, nil, cookie)
	if rec.Code != want {
		e.t.Fatalf("GET %s: %d, want %d\n%s", path, rec.Code, want, rec.Body)
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return doc
}

func (e *staffEnv) auditCount(action string) int {
	e.t.Helper()
	var n int
	if err := e.st.DB().GetContext(context.Background(), &n, `SELECT count(*) FROM audit_log WHERE action = $1`, action); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// expectedAccess is who may use each route. A route added to the table
// without a line here fails TestRouteRoleMatrix: whoever adds it must say
// who may use it, and the matrix then checks the guard enforces it.
var expectedAccess = map[string]string{
	"GET /healthz":                          "public",
	"GET /readyz":                           "public",
	"GET /metrics":                          "admin",
	"POST /webhooks/stripe":                 "public",
	"POST /api/finances/stripe/webhook/{$}": "public",
	"GET /static/":                          "public",
	"GET /login":                            "public",
	"POST /login":                           "public",
	"POST /logout":                          "viewer",
	"GET /{$}":                              "viewer",
	"GET /customers":                        "viewer",
	"GET /customers.csv":                    "viewer",
	"GET /customers/{id}/row":               "viewer",
	"GET /invoices":                         "viewer",
	"GET /invoices.csv":                     "viewer",
	"GET /invoices/{id}/row":                "viewer",
	"GET /charges":                          "viewer",
	"GET /charges.csv":                      "viewer",
	"GET /charges/{id}/row":                 "viewer",
	"GET /refunds":                          "viewer",
	"GET /refunds.csv":                      "viewer",
	"GET /refunds/{id}/row":                 "viewer",
	"GET /customers/{id}":                   "viewer",
	"GET /invoices/{id}":                    "viewer",
	"GET /charges/{id}":                     "viewer",
	"GET /refunds/{id}":                     "viewer",
	"GET /live":                             "viewer",
	"GET /charges/{id}/refund":              "support",
	"POST /charges/{id}/refunds":            "support",
	"GET /refunds/requests":                 "support",
	"POST /refunds/requests/{id}/approve":   "support",
	"POST /refunds/requests/{id}/reject":    "support",
	"GET /admin/users":                      "admin",
	"POST /admin/users":                     "admin",
	"POST /admin/users/{id}/role":           "admin",
	"POST /admin/users/{id}/disable":        "admin",
	"POST /admin/users/{id}/enable":         "admin",
	"POST /admin/users/{id}/password":       "admin",
	"GET /admin/audit":                      "admin",

	// Customers (customer_actions.go), API tokens (admin_tokens.go) and
	// the purchase intake (orders.go), which takes an API token only.
	"GET /customers/new":             "billing",
	"POST /customers":                "billing",
	"GET /customers/{id}/edit":       "billing",
	"POST /customers/{id}":           "billing",
	"GET /admin/tokens":              "admin",
	"POST /admin/tokens":             "admin",
	"POST /admin/tokens/{id}/revoke": "admin",
	"POST /api/v1/orders":            "api-token",

	// Invoice actions (invoice_actions.go).
	"GET /customers/{id}/invoices/new":       "billing",
	"POST /customers/{id}/invoices":          "billing",
	"POST /invoices/{id}/finalize":           "billing",
	"POST /invoices/{id}/send":               "billing",
	"POST /invoices/{id}/void":               "billing",
	"POST /invoices/{id}/mark-uncollectible": "billing",
	"POST /invoices/{id}/pay":                "billing",
	"POST /invoices/{id}/delete":             "billing",
}

// TestRouteRoleMatrix walks every registered route as an anonymous visitor
// and as each role: anonymous visitors are sent to the sign-in page (401
// for APIs), roles below the route's are refused with 403, the others get
// through.
func TestRouteRoleMatrix(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{})
	victim := e.addUser("victim@example.com", store.RoleViewer)
	routes := e.srv.Routes()
	seen := map[string]bool{}
	for _, rt := range routes {
		seen[rt.Pattern] = true
		want, ok := expectedAccess[rt.Pattern]
		if !ok {
			t.Errorf("route %q is not in the matrix: add who may use it to expectedAccess", rt.Pattern)
			continue
		}
		got := string(rt.MinRole)
		switch {
		case rt.Public:
			got = "public"
		case rt.APIToken:
			got = "api-token"
		}
		if got != want {
			t.Errorf("route %q: registered for %q, the matrix expects %q", rt.Pattern, got, want)
		}
	}
	for pattern := range expectedAccess {
		if !seen[pattern] {
			t.Errorf("the matrix names %q, which is not registered", pattern)
		}
	}

	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		path = strings.NewReplacer("{$}", "", "{id}", fmt.Sprint(victim.ID)).Replace(path)
		if path == "/static/" {
			path = "/static/paydesk.css"
		}
		var form url.Values
		if method == http.MethodPost {
			form = url.Values{"role": {"viewer"}, "email": {"new-" + fmt.Sprint(time.Now().UnixNano()) + "@example.com"}}
		}
		anon := e.do(method, path, form)
		if rt.APIToken {
			// No session of any role gets in: only a bearer token does
			// (orders_test.go).
			for _, c := range append([]*http.Cookie{nil}, e.mustLogin(store.RoleAdmin)) {
				var rec *httptest.ResponseRecorder
				if c == nil {
					rec = anon
				} else {
					rec = e.do(method, path, form, c)
				}
				if rec.Code != http.StatusUnauthorized || rec.Header().Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s without a token (session %v): %d %q, want 401 problem+json", rt.Pattern, c != nil, rec.Code,
						rec.Header().Get("Content-Type"))
				}
			}
			continue
		}
		switch {
		case rt.Public:
			if anon.Code == http.StatusUnauthorized || anon.Code == http.StatusForbidden || isLoginRedirect(anon) {
				t.Errorf("%s as anonymous: %d, want the public route to answer", rt.Pattern, anon.Code)
			}
			continue
		case rt.API:
			if anon.Code != http.StatusUnauthorized {
				t.Errorf("%s as anonymous: %d, want 401", rt.Pattern, anon.Code)
			}
		default:
			if !isLoginRedirect(anon) {
				t.Errorf("%s as anonymous: %d %q, want a redirect to /login", rt.Pattern, anon.Code, anon.Header().Get("Location"))
			}
		}
		for _, role := range store.Roles {
			// A fresh session each time: some routes (sign-out) end it.
			rec := e.do(method, path, form, e.mustLogin(role))
			allowed := role.AtLeast(rt.MinRole)
			switch {
			case !allowed && rec.Code != http.StatusForbidden:
				t.Errorf("%s as %s: %d, want 403", rt.Pattern, role, rec.Code)
			case allowed && (rec.Code == http.StatusForbidden || rec.Code == http.StatusUnauthorized || isLoginRedirect(rec) && rt.Pattern != "POST /logout"):
				t.Errorf("%s as %s: %d, want it allowed", rt.Pattern, role, rec.Code)
			}
		}
	}
}

func isLoginRedirect(rec *httptest.ResponseRecorder) bool {
	return rec.Code == http.StatusSeeOther && strings.HasPrefix(rec.Header().Get("Location"), "/login")
}

func TestLoginRenewsTheSession(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{})
	before := e.mustLogin(store.RoleViewer)
	// Signing in again from a browser that has a session gives a new one
	// and ends the old.
	rec, after := e.login(e.users[store.RoleAdmin].Email, testPassword, before)
	if rec.Code != http.StatusSeeOther || after == nil || after.Value == before.Value {
		t.Fatalf("second sign-in: %d, cookie %v (before %v)", rec.Code, after, before)
	}
	if rec := e.do(http.MethodGet, "/", nil, before); !isLoginRedirect(rec) {
		t.Fatalf("the session from before sign-in still works: %d", rec.Code)
	}
	if rec := e.do(http.MethodGet, "/admin/users", nil, after); rec.Code != http.StatusOK {
		t.Fatalf("the new session: %d", rec.Code)
	}
	// Signing out ends the session on the server, not only in the browser.
	if rec := e.do(http.MethodPost, "/logout", url.Values{}, after); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", rec.Code)
	}
	if rec := e.do(http.MethodGet, "/", nil, after); !isLoginRedirect(rec) {
		t.Fatalf("a signed-out session still works: %d", rec.Code)
	}
	if n := e.auditCount("logout"); n != 1 {
		t.Fatalf("%d logout audit rows, want 1", n)
	}
}

func TestDisableAndRoleChangeSignOut(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{})
	admin := e.mustLogin(store.RoleAdmin)
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/admin/users/%d/role", url.Values{"role": {"billing"}}},
		{"/admin/users/%d/disable", url.Values{}},
	} {
		victim := e.users[store.RoleSupport]
		if tc.path == "/admin/users/%d/disable" {
			victim = e.users[store.RoleViewer]
		}
		session := e.mustLogin(victim.Role)
		if rec := e.do(http.MethodGet, "/", nil, session); rec.Code != http.StatusOK {
			t.Fatalf("before: %d", rec.Code)
		}
		if rec := e.do(http.MethodPost, fmt.Sprintf(tc.path, victim.ID), tc.form, admin); rec.Code != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", tc.path, rec.Code, rec.Body)
		}
		if rec := e.do(http.MethodGet, "/", nil, session); !isLoginRedirect(rec) {
			t.Fatalf("after %s the user's session still works: %d", tc.path, rec.Code)
		}
	}
	// The disabled user cannot sign in again; the answer is the same as
	// for a wrong password.
	rec, _ := e.login(e.users[store.RoleViewer].Email, testPassword)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "Email or password is incorrect.") {
		t.Fatalf("a disabled user signing in: %d", rec.Code)
	}
	if e.auditCount("user.set_role") != 1 || e.auditCount("user.disable") != 1 {
		t.Fatal("want one audit row per change")
	}
}

func TestSessionTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    handlers.Config
		wait time.Duration
	}{
		{"idle", handlers.Config{IdleTimeout: 50 * time.Millisecond, AbsoluteTimeout: time.Hour}, 120 * time.Millisecond},
		{"absolute", handlers.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 300 * time.Millisecond}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newStaffEnv(t, tc.c)
			c := e.mustLogin(store.RoleViewer)
			if rec := e.do(http.MethodGet, "/", nil, c); rec.Code != http.StatusOK {
				t.Fatalf("fresh session: %d", rec.Code)
			}
			if tc.name == "absolute" {
				// Keep the session busy: activity does not extend it past
				// its absolute limit.
				deadline := time.Now().Add(400 * time.Millisecond)
				for time.Now().Before(deadline) {
					e.do(http.MethodGet, "/", nil, c)
					time.Sleep(20 * time.Millisecond)
				}
			}
			time.Sleep(tc.wait)
			rec := e.do(http.MethodGet, "/", nil, c)
			if !isLoginRedirect(rec) {
				t.Fatalf("after the %s timeout: %d", tc.name, rec.Code)
			}
			if gone := sessionCookie(rec); gone == nil || gone.MaxAge >= 0 {
				t.Fatalf("the ended session's cookie was not removed: %v", gone)
			}
		})
	}
}

func TestCookieFlagsAndSecurityHeaders(t *testing.T) {
	for _, tc := range []struct {
		https  handlers.HTTPS
		secure bool
	}{{handlers.HTTPSAuto, false}, {handlers.HTTPSOn, true}, {handlers.HTTPSOff, false}} {
		e := newStaffEnv(t, handlers.Config{HTTPS: tc.https})
		rec, c := e.login(e.users[store.RoleViewer].Email, testPassword)
		if c == nil {
			t.Fatalf("no session cookie: %d", rec.Code)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tc.secure || c.Path != "/" {
			t.Errorf("https %v: cookie HttpOnly=%v SameSite=%v Secure=%v Path=%q", tc.https, c.HttpOnly, c.SameSite, c.Secure, c.Path)
		}
		page := e.do(http.MethodGet, "/", nil, c)
		h := page.Header()
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("CSP %q", csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("headers %v", h)
		}
		if hsts := h.Get("Strict-Transport-Security"); (hsts != "") != tc.secure {
			t.Errorf("https %v: HSTS %q", tc.https, hsts)
		}
		if h.Get("Cache-Control") != "no-store" {
			t.Errorf("a signed-in page may be cached: %q", h.Get("Cache-Control"))
		}
	}
}

func TestLoginThrottling(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{})
	email := e.users[store.RoleSupport].Email
	for i := range 5 {
		if rec, _ := e.login(email, "wrong password "+fmt.Sprint(i)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, rec.Code)
		}
	}
	// Now even the right password is refused, with a clear message.
	rec, c := e.login(email, testPassword)
	if rec.Code != http.StatusTooManyRequests || c != nil || !strings.Contains(rec.Body.String(), "Too many sign-in attempts") {
		t.Fatalf("after 5 failures: %d, cookie %v", rec.Code, c)
	}
	// An unknown email is throttled the same way: nothing tells the two apart.
	for i := range 5 {
		e.login("nobody@example.com", "guess "+fmt.Sprint(i))
	}
	unknown, _ := e.login("nobody@example.com", testPassword)
	if unknown.Code != rec.Code {
		t.Fatalf("unknown email throttled with %d, a known one with %d", unknown.Code, rec.Code)
	}
	// Per address: many accounts tried from one address.
	for i := range 20 {
		e.login(fmt.Sprintf("spray%d@example.com", i), "guess")
	}
	if rec, _ := e.login(e.users[store.RoleBilling].Email, testPassword); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("after 20 failures from one address: %d", rec.Code)
	}
	if n := e.auditCount("login"); n < 30 {
		t.Fatalf("%d login audit rows, want one per attempt", n)
	}
}

func TestUnknownEmailAndWrongPasswordLookTheSame(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{})
	known, _ := e.login(e.users[store.RoleViewer].Email, "not the password")
	unknown, _ := e.login("ghost@example.com", "not the password")
	strip := func(rec *httptest.ResponseRecorder) string {
		return strings.NewReplacer(e.users[store.RoleViewer].Email, "EMAIL", "ghost@example.com", "EMAIL").Replace(rec.Body.String())
	}
	if known.Code != unknown.Code || strip(known) != strip(unknown) {
		t.Fatalf("the answers differ: %d vs %d\n%s\n---\n%s", known.Code, unknown.Code, strip(known), strip(unknown))
	}
	if known.Header().Get("Set-Cookie") != "" || unknown.Header().Get("Set-Cookie") != "" {
		t.Fatal("a failed sign-in set a cookie")
	}
}

// failingAudit makes every transaction fail after its work is done, as if
// the audit insert had failed: the change must not survive without it.
type failingAudit struct{ *store.Store }

func (f failingAudit) InTx(ctx context.Context, fn func(tx *store.Store) error) error {
	return f.Store.InTx(ctx, func(tx *store.Store) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errors.New("audit insert failed")
	})
}

func TestEveryAdminActionLeavesOneAuditRow(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{})
	admin := e.mustLogin(store.RoleAdmin)
	victim := e.users[store.RoleBilling]
	steps := []struct {
		action, path string
		form         url.Values
	}{
		{"user.add", "/admin/users", url.Values{"email": {"new@example.com"}, "name": {"New"}, "role": {"support"}}},
		{"user.set_role", fmt.Sprintf("/admin/users/%d/role", victim.ID), url.Values{"role": {"viewer"}}},
		{"user.disable", fmt.Sprintf("/admin/users/%d/disable", victim.ID), url.Values{}},
		{"user.enable", fmt.Sprintf("/admin/users/%d/enable", victim.ID), url.Values{}},
		{"user.reset_password", fmt.Sprintf("/admin/users/%d/password", victim.ID), url.Values{}},
	}
	for _, step := range steps {
		rec := e.do(http.MethodPost, step.path, step.form, admin)
		if rec.Code >= 400 {
			t.Fatalf("%s: %d %s", step.action, rec.Code, rec.Body)
		}
		if n := e.auditCount(step.action); n != 1 {
			t.Fatalf("%s left %d audit rows", step.action, n)
		}
	}
	var row struct {
		Actor  string `db:"actor"`
		Target string `db:"target"`
		Params string `db:"params"`
	}
	if err := e.st.DB().GetContext(context.Background(), &row, `SELECT actor, target, params::text AS params FROM audit_log WHERE action = 'user.set_role'`); err != nil {
		t.Fatal(err)
	}
	if row.Actor != e.users[store.RoleAdmin].Email || row.Target != fmt.Sprintf("user:%d", victim.ID) ||
		!strings.Contains(row.Params, `"to": "viewer"`) || !strings.Contains(row.Params, `"from": "billing"`) {
		t.Fatalf("audit row %+v", row)
	}
	// Refused input leaves nothing.
	before := e.auditCount("user.add")
	if rec := e.do(http.MethodPost, "/admin/users", url.Values{"email": {"not an email"}, "role": {"viewer"}}, admin); rec.Code != http.StatusBadRequest {
		t.Fatalf("a bad email: %d", rec.Code)
	}
	if e.auditCount("user.add") != before {
		t.Fatal("a refused add left an audit row")
	}
}

func TestChangeAndAuditRollBackTogether(t *testing.T) {
	st := storetest.New(t)
	e := newStaffEnv(t, handlers.Config{})
	e.st = st
	e.srv = handlers.New(withStaff(t, handlers.Config{Intake: st, Ready: readyFunc(alwaysReady), Staff: failingAudit{st}}))
	admin := e.addUser("boss@example.com", store.RoleAdmin)
	victim := e.addUser("clerk@example.com", store.RoleSupport)
	// Sign in directly: sign-in itself writes its audit row in a
	// transaction, which failingAudit would refuse.
	token, err := st.CreateSession(context.Background(), admin.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cookie := signedCookie(t, token)
	rec := e.do(http.MethodPost, fmt.Sprintf("/admin/users/%d/role", victim.ID), url.Values{"role": {"admin"}}, cookie)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("want 500 when the transaction fails, got %d", rec.Code)
	}
	got, err := st.User(context.Background(), victim.ID)
	if err != nil || got.Role != store.RoleSupport {
		t.Fatalf("the role changed without its audit row: %v %v", got.Role, err)
	}
	if n := e.auditCount("user.set_role"); n != 0 {
		t.Fatalf("%d audit rows for a change that rolled back", n)
	}
}

// signedCookie makes the session cookie a test server would set for token,
// by signing in through a server that shares the session secret.
func signedCookie(t *testing.T, token string) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := handlers.WriteSessionCookieForTest(rec, testSessionSecret, token); err != nil {
		t.Fatal(err)
	}
	return sessionCookie(rec)
}

func TestNoSecretsInLogs(t *testing.T) {
	e := newStaffEnv(t, handlers.Config{})
	admin := e.mustLogin(store.RoleAdmin)
	e.login(e.users[store.RoleViewer].Email, "a wrong password that must not be logged")
	rec := e.do(http.MethodPost, fmt.Sprintf("/admin/users/%d/password", e.users[store.RoleSupport].ID), url.Values{}, admin)
	generated := regexp.MustCompile(`<code[^>]*>([^<]+)</code>`).FindStringSubmatch(rec.Body.String())
	if generated == nil {
		t.Fatalf("no generated password on the page:\n%s", rec.Body)
	}
	e.do(http.MethodPost, "/logout", url.Values{}, admin)
	logs := e.logs.String()
	if !strings.Contains(logs, "http request") {
		t.Fatalf("nothing was logged at debug level; the test would prove nothing:\n%s", logs)
	}
	for _, secret := range []string{testPassword, "a wrong password that must not be logged", generated[1], admin.Value, string(testSessionSecret)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret %q:\n%s", secret, logs)
		}
	}
}
