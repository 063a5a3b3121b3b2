package handlers

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/sessions"

	"paydesk/store"
)

// Staff is what the sign-in, session and admin handlers need from the
// database. It is satisfied by *store.Store; changes and their audit rows
// go through InTx so they commit or roll back together.
type Staff interface {
	InTx(ctx context.Context, fn func(tx *store.Store) error) error
	UserByEmail(ctx context.Context, email string) (store.User, error)
	User(ctx context.Context, id int64) (store.User, error)
	Users(ctx context.Context) ([]store.User, error)
	CreateSession(ctx context.Context, userID int64, remoteAddr, userAgent string) (string, error)
	SessionUser(ctx context.Context, token string, idle, absolute time.Duration) (store.Session, store.User, error)
	DeleteSession(ctx context.Context, token string) error
	LoginFailures(ctx context.Context, email, remoteAddr string, since time.Time) (int, int, error)
	RecordLoginFailure(ctx context.Context, email, remoteAddr string) error
	ClearLoginFailures(ctx context.Context, email string) error
	AuditEntries(ctx context.Context, f store.AuditFilter) ([]store.AuditRow, error)
	RecordAudit(ctx context.Context, e store.AuditEntry) error
}

// HTTPS says whether paydesk is reached over https, which decides the
// cookie's Secure flag and HSTS.
type HTTPS int

const (
	// HTTPSAuto trusts the connection: https when the request came over TLS
	// to this process.
	HTTPSAuto HTTPS = iota
	// HTTPSOn is for a TLS-terminating proxy in front: every request is
	// treated as https.
	HTTPSOn
	// HTTPSOff never marks cookies Secure (plain-http development only).
	HTTPSOff
)

// Session timeouts unless configured.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

const sessionCookie = "paydesk_session"

// sessionCodec signs and encrypts the session cookie (gorilla/sessions).
// The cookie carries only a random token; the session itself lives in
// PostgreSQL, so signing out, disabling a user or changing their role ends
// it everywhere at once.
func newSessionCodec(secret []byte) *sessions.CookieStore {
	// Separate keys for signing and for encryption, both derived from the
	// one configured secret.
	hashKey := sha256.Sum256(append([]byte("paydesk session signing\x00"), secret...))
	blockKey := sha256.Sum256(append([]byte("paydesk session encryption\x00"), secret...))
	cs := sessions.NewCookieStore(hashKey[:], blockKey[:])
	cs.MaxAge(0)
	return cs
}

// signedIn is the user a request is made by.
type signedIn struct {
	user  store.User
	token string
}

type ctxKey struct{}

// currentUser returns the signed-in user of r, if any.
func currentUser(r *http.Request) (store.User, bool) {
	si, ok := r.Context().Value(ctxKey{}).(*signedIn)
	if !ok {
		return store.User{}, false
	}
	return si.user, true
}

// isHTTPS reports whether r reached paydesk over https.
func (s *Server) isHTTPS(r *http.Request) bool {
	switch s.https {
	case HTTPSOn:
		return true
	case HTTPSOff:
		return false
	}
	return r.TLS != nil
}

// sessionToken reads the token from r's cookie; "" when there is none or it
// does not verify.
func (s *Server) sessionToken(r *http.Request) string {
	if _, err := r.Cookie(sessionCookie); err != nil {
		return ""
	}
	sess, err := s.cookies.Get(r, sessionCookie)
	if err != nil {
		return ""
	}
	token, _ := sess.Values["t"].(string)
	return token
}

// setSessionCookie gives the browser a cookie for token; an empty token
// deletes the cookie.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) error {
	sess := sessions.NewSession(s.cookies, sessionCookie)
	sess.Options = &sessions.Options{
		Path: "/", HttpOnly: true, Secure: s.isHTTPS(r), SameSite: http.SameSiteLaxMode,
		MaxAge: int(s.absolute / time.Second),
	}
	if token == "" {
		sess.Options.MaxAge = -1
	} else {
		sess.Values["t"] = token
	}
	return s.cookies.Save(r, w, sess)
}

// authenticate attaches the signed-in user to the request when its session
// is live. A session that ended (timeout, sign-out elsewhere, the user
// disabled or their role or password changed) loses its cookie.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *http.Request {
	token := s.sessionToken(r)
	if token == "" {
		return r
	}
	_, user, err := s.staff.SessionUser(r.Context(), token, s.idle, s.absolute)
	if err != nil {
		if !errors.Is(err, store.ErrSessionEnded) {
			s.logError(r, "cannot look up a session", err)
		}
		_ = s.setSessionCookie(w, r, "")
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, &signedIn{user: user, token: token}))
}

// access is who may use a route.
type access struct {
	public bool       // anyone, signed in or not (and no session lookup)
	min    store.Role // otherwise the lowest role allowed
	api    bool       // answers 401 to anonymous callers instead of redirecting to /login
	// token: a machine caller with an API token (Authorization: Bearer),
	// never a session (admin_tokens.go); cross-origin protection does not
	// apply, as no browser sends the token.
	token bool
}

var (
	publicRoute  = access{public: true}
	viewerRoute  = access{min: store.RoleViewer}
	supportRoute = access{min: store.RoleSupport}
	billingRoute = access{min: store.RoleBilling}
	adminRoute   = access{min: store.RoleAdmin}
	// apiTokenRoute is for callers holding an API token an admin made.
	apiTokenRoute = access{token: true, api: true}
)

// guard enforces a route's access: the one place roles are checked.
func (s *Server) guard(a access, h http.HandlerFunc) http.HandlerFunc {
	if a.public {
		return h
	}
	if a.token {
		return s.withAPIToken(h)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		r = s.authenticate(w, r)
		user, ok := currentUser(r)
		switch {
		case !ok && a.api:
			w.Header()["Www-Authenticate"] = []string{`Cookie realm="paydesk"`}
			s.fail(w, r, http.StatusUnauthorized, "sign in first", nil)
		case !ok:
			http.Redirect(w, r, "/login?next="+url.QueryEscape(safeNext(r.URL.RequestURI())), http.StatusSeeOther)
		case !user.Role.AtLeast(a.min):
			s.renderError(w, r, http.StatusForbidden, "Your role ("+string(user.Role)+") does not allow this page or action.")
		default:
			// Signed-in pages are personal: no shared or back-forward cache.
			w.Header()["Cache-Control"] = noStoreCache
			h(w, r)
		}
	}
}

// safeNext keeps a post-login redirect on this site: a path, not a URL
// that leaves it ("//evil.example", "https://...", "/\\evil").
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	if strings.HasPrefix(next, "/login") || strings.HasPrefix(next, "/logout") {
		return "/"
	}
	return next
}
