package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"paydesk/store"
	"paydesk/views"
)

// Login throttling: past these many failures in throttleWindow, sign-in is
// refused for the account (whatever the address) and for the address
// (whatever the account). Failures are counted in PostgreSQL, so every
// replica sees them.
const (
	throttleWindow     = 15 * time.Minute
	maxFailuresAccount = 5
	maxFailuresAddress = 20
)

// The answers a failed sign-in can get. An unknown email, a wrong password
// and a disabled account get the same one, so the form does not tell
// anyone which emails have accounts.
const (
	msgBadCredentials = "Email or password is incorrect."
	msgThrottled      = "Too many sign-in attempts. Wait 15 minutes, then try again."
	msgMissing        = "Enter your email and password."
)

// maxFormBody bounds every form post.
const maxFormBody = 64 << 10

// loginPage shows the sign-in form (GET /login).
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := currentUser(s.authenticate(w, r)); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, views.LoginForm{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, f views.LoginForm) {
	s.render(w, r, status, views.LoginPage(s.page(r, "Sign in", ""), f))
}

// login checks the credentials (POST /login). On success the session is
// new (any session the browser brought is ended first, so a session id
// planted before sign-in is worthless) and the user is sent on.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, views.LoginForm{Error: msgMissing})
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostForm.Get("email")))
	password := r.PostForm.Get("password")
	form := views.LoginForm{Email: email, Next: safeNext(r.PostForm.Get("next"))}
	if email == "" || password == "" || len(email) > 320 {
		form.Error = msgMissing
		s.renderLogin(w, r, http.StatusBadRequest, form)
		return
	}
	ctx := r.Context()
	addr := remoteHost(r)

	byAccount, byAddress, err := s.staff.LoginFailures(ctx, email, addr, time.Now().Add(-throttleWindow))
	if err != nil {
		s.serverError(w, r, "cannot check sign-in attempts", err)
		return
	}
	if byAccount >= maxFailuresAccount || byAddress >= maxFailuresAddress {
		s.audit(r, store.AuditEntry{Actor: "anonymous", Action: "login", Outcome: store.AuditRefused,
			Params: map[string]any{"email": email, "reason": "too many failed attempts"}})
		form.Error = msgThrottled
		w.Header().Set("Retry-After", "900")
		s.renderLogin(w, r, http.StatusTooManyRequests, form)
		return
	}

	user, err := s.staff.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		store.CheckNoPassword(password) // the same work as a wrong password
	case err != nil:
		s.serverError(w, r, "cannot look up a user", err)
		return
	}
	if err != nil || !store.CheckPassword(user.PasswordHash, password) || user.Disabled {
		entry := store.AuditEntry{Actor: "anonymous", Action: "login", Outcome: store.AuditFailed,
			Params: map[string]any{"email": email}}
		if err == nil {
			entry.ActorID, entry.Actor = &user.ID, user.Email
		}
		if ferr := s.staff.RecordLoginFailure(ctx, email, addr); ferr != nil {
			s.logError(r, "cannot record a failed sign-in", ferr)
		}
		s.audit(r, entry)
		form.Error = msgBadCredentials
		s.renderLogin(w, r, http.StatusUnauthorized, form)
		return
	}

	var token string
	err = s.staff.InTx(ctx, func(tx *store.Store) error {
		if old := s.sessionToken(r); old != "" {
			if err := tx.DeleteSession(ctx, old); err != nil {
				return err
			}
		}
		var err error
		if token, err = tx.CreateSession(ctx, user.ID, addr, r.UserAgent()); err != nil {
			return err
		}
		if err := tx.RecordLogin(ctx, user.ID); err != nil {
			return err
		}
		if err := tx.ClearLoginFailures(ctx, email); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, store.AuditEntry{ActorID: &user.ID, Actor: user.Email, Action: "login",
			Target: userTarget(user.ID), Outcome: store.AuditOK, RemoteAddr: addr})
	})
	if err == nil {
		err = s.setSessionCookie(w, r, token)
	}
	if err != nil {
		s.serverError(w, r, "cannot start a session", err)
		return
	}
	http.Redirect(w, r, form.Next, http.StatusSeeOther)
}

// logout ends the session (POST /logout).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	si := r.Context().Value(ctxKey{}).(*signedIn)
	ctx := r.Context()
	err := s.staff.InTx(ctx, func(tx *store.Store) error {
		if err := tx.DeleteSession(ctx, si.token); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, store.AuditEntry{ActorID: &si.user.ID, Actor: si.user.Email, Action: "logout",
			Target: userTarget(si.user.ID), Outcome: store.AuditOK, RemoteAddr: remoteHost(r)})
	})
	if err != nil {
		s.serverError(w, r, "cannot end the session", err)
		return
	}
	_ = s.setSessionCookie(w, r, "")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// audit records an entry on its own, for events that change nothing else
// (a refused or failed sign-in). A failure is logged: the answer stands.
func (s *Server) audit(r *http.Request, e store.AuditEntry) {
	if e.RemoteAddr == "" {
		e.RemoteAddr = remoteHost(r)
	}
	if err := s.staff.RecordAudit(r.Context(), e); err != nil {
		s.logError(r, "cannot write an audit row", err)
	}
}
