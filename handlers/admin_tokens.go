package handlers

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"paydesk/store"
	"paydesk/views"
)

// tokenStore keeps the API tokens (store/tokens.go).
type tokenStore interface {
	APITokens(ctx context.Context) ([]store.APIToken, error)
	APITokenByID(ctx context.Context, id int64) (store.APIToken, error)
	APITokenByToken(ctx context.Context, token string) (store.APIToken, error)
}

// tokenName is what a token may be called: it names the token's actions
// in the audit log, so it cannot look like a staff email.
var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,59}$`)

func tokenTarget(id int64) string { return "api_token:" + strconv.FormatInt(id, 10) }

// tokensPage lists the API tokens (GET /admin/tokens).
func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request) {
	s.renderTokens(w, r, http.StatusOK, views.TokensData{}, "")
}

func (s *Server) renderTokens(w http.ResponseWriter, r *http.Request, status int, d views.TokensData, flash string) {
	if s.tokens == nil {
		s.renderError(w, r, http.StatusServiceUnavailable, "API tokens are not available on this server.")
		return
	}
	tokens, err := s.tokens.APITokens(r.Context())
	if err != nil {
		s.serverError(w, r, "cannot list API tokens", err)
		return
	}
	users, err := s.staff.Users(r.Context())
	if err != nil {
		s.serverError(w, r, "cannot list users", err)
		return
	}
	emails := make(map[int64]string, len(users))
	for _, u := range users {
		emails[u.ID] = u.Email
	}
	for _, t := range tokens {
		row := views.TokenRow{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedAt: s.formatTime(t.CreatedAt),
			CreatedBy: "—", LastUsed: "never", Revoked: t.Revoked()}
		if t.CreatedBy != nil {
			row.CreatedBy = emails[*t.CreatedBy]
		}
		if t.LastUsedAt != nil {
			row.LastUsed = s.formatTime(*t.LastUsedAt)
		}
		if t.RevokedAt != nil {
			row.Revoke = s.formatTime(*t.RevokedAt)
		}
		d.Tokens = append(d.Tokens, row)
	}
	w.Header()["Cache-Control"] = noStoreCache
	p := s.page(r, "API tokens", "/admin/tokens")
	p.Flash = flash
	s.render(w, r, status, views.TokensPage(p, d))
}

// createToken makes a token and shows it once (POST /admin/tokens).
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if !tokenName.MatchString(name) {
		s.renderTokens(w, r, http.StatusUnprocessableEntity, views.TokensData{NewName: name,
			NewError: "Name the token with 1 to 60 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit."}, "")
		return
	}
	me, _ := currentUser(r)
	var token string
	err := s.change(r, func(tx *store.Store) (store.AuditEntry, error) {
		t, plain, err := tx.CreateAPIToken(r.Context(), name, me.ID)
		token = plain
		return store.AuditEntry{Action: "token.create", Target: tokenTarget(t.ID),
			Params: map[string]any{"name": name, "prefix": t.Prefix}}, err
	})
	if errors.Is(err, store.ErrTokenNameTaken) {
		s.renderTokens(w, r, http.StatusConflict, views.TokensData{NewName: name,
			NewError: "A token with this name exists (or existed: names of revoked tokens stay taken)."}, "")
		return
	}
	if err != nil {
		s.serverError(w, r, "cannot create an API token", err)
		return
	}
	s.renderTokens(w, r, http.StatusOK, views.TokensData{OneTimeToken: token, OneTimeFor: name}, "Created the token "+name+".")
}

// revokeToken ends a token for good (POST /admin/tokens/{id}/revoke).
// Its next request is refused.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || s.tokens == nil {
		s.renderError(w, r, http.StatusNotFound, "There is no such API token.")
		return
	}
	t, err := s.tokens.APITokenByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.renderError(w, r, http.StatusNotFound, "There is no such API token.")
		return
	}
	if err != nil {
		s.serverError(w, r, "cannot load an API token", err)
		return
	}
	if t.Revoked() {
		// Nothing changes, so no audit row.
		http.Redirect(w, r, "/admin/tokens", http.StatusSeeOther)
		return
	}
	me, _ := currentUser(r)
	err = s.change(r, func(tx *store.Store) (store.AuditEntry, error) {
		_, err := tx.RevokeAPIToken(r.Context(), id, me.ID)
		return store.AuditEntry{Action: "token.revoke", Target: tokenTarget(id),
			Params: map[string]any{"name": t.Name, "prefix": t.Prefix}}, err
	})
	if err != nil {
		s.serverError(w, r, "cannot revoke an API token", err)
		return
	}
	http.Redirect(w, r, "/admin/tokens", http.StatusSeeOther)
}

type apiTokenKey struct{}

// apiTokenOf is the API token a request was authenticated with.
func apiTokenOf(r *http.Request) (store.APIToken, bool) {
	t, ok := r.Context().Value(apiTokenKey{}).(store.APIToken)
	return t, ok
}

// withAPIToken admits a request carrying a live API token in
// "Authorization: Bearer <token>" and nothing else: a session cookie is
// not looked at. A missing, unknown or revoked token gets 401 as
// application/problem+json.
func (s *Server) withAPIToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Cache-Control"] = noStoreCache
		auth := r.Header.Values("Authorization")
		scheme, token, _ := strings.Cut(strings.TrimSpace(strings.Join(auth, "")), " ")
		token = strings.TrimSpace(token)
		if len(auth) != 1 || !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header()["Www-Authenticate"] = []string{`Bearer realm="paydesk"`}
			s.problem(w, r, problem{Status: http.StatusUnauthorized, Title: "API token required",
				Detail: "Send an API token made by a paydesk admin as \"Authorization: Bearer <token>\"."})
			return
		}
		if s.tokens == nil {
			s.problem(w, r, problem{Status: http.StatusServiceUnavailable, Title: "API tokens unavailable",
				Detail: "This server has no store for API tokens."})
			return
		}
		t, err := s.tokens.APITokenByToken(r.Context(), token)
		if errors.Is(err, store.ErrNotFound) {
			w.Header()["Www-Authenticate"] = []string{`Bearer realm="paydesk", error="invalid_token"`}
			s.problem(w, r, problem{Status: http.StatusUnauthorized, Title: "API token refused",
				Detail: "The token is unknown or was revoked. Ask a paydesk admin for a new one."})
			return
		}
		if err != nil {
			s.logError(r, "cannot look up an API token", err)
			s.problem(w, r, problem{Status: http.StatusInternalServerError, Title: "Internal error",
				Detail: "Something went wrong on our side; try again."})
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), apiTokenKey{}, t)))
	}
}
