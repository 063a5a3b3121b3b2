package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"paydesk/store"
	"paydesk/views"
)

func userTarget(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// usersPage lists the staff accounts (GET /admin/users).
func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) {
	s.renderUsers(w, r, http.StatusOK, views.UsersData{New: views.NewUserForm{Role: string(store.RoleViewer)}}, "")
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, status int, d views.UsersData, flash string) {
	users, err := s.staff.Users(r.Context())
	if err != nil {
		s.serverError(w, r, "cannot list users", err)
		return
	}
	me, _ := currentUser(r)
	for _, u := range users {
		last := "never"
		if u.LastLoginAt != nil {
			last = s.formatTime(*u.LastLoginAt)
		}
		d.Users = append(d.Users, views.UserRow{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role),
			Disabled: u.Disabled, LastLogin: last, IsSelf: u.ID == me.ID})
	}
	for _, role := range store.Roles {
		d.Roles = append(d.Roles, string(role))
	}
	p := s.page(r, "Users", "/admin/users")
	p.Flash = flash
	s.render(w, r, status, views.UsersPage(p, d))
}

// addUser creates an account with a generated password, shown once
// (POST /admin/users).
func (s *Server) addUser(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	f := views.NewUserForm{
		Email: strings.ToLower(strings.TrimSpace(r.PostForm.Get("email"))),
		Name:  strings.TrimSpace(r.PostForm.Get("name")),
		Role:  r.PostForm.Get("role"),
		// Errors by field, shown beside it.
		Errors: map[string]string{},
	}
	if addr, err := mail.ParseAddress(f.Email); err != nil || addr.Address != f.Email || len(f.Email) > 320 {
		f.Errors["email"] = "Enter an email address like name@example.com."
	}
	if len(f.Name) > 200 {
		f.Errors["name"] = "Keep the name under 200 characters."
	}
	role, err := store.ParseRole(f.Role)
	if err != nil {
		f.Errors["role"] = "Choose one of the roles."
	}
	if len(f.Errors) > 0 {
		s.renderUsers(w, r, http.StatusBadRequest, views.UsersData{New: f}, "")
		return
	}
	password, hash, ok := s.newPassword(w, r)
	if !ok {
		return
	}
	var added store.User
	err = s.change(r, func(tx *store.Store) (store.AuditEntry, error) {
		var err error
		added, err = tx.AddUser(r.Context(), f.Email, f.Name, role, hash)
		return store.AuditEntry{Action: "user.add", Target: userTarget(added.ID),
			Params: map[string]any{"email": f.Email, "role": string(role)}}, err
	})
	if errors.Is(err, store.ErrEmailTaken) {
		f.Errors["email"] = "A user with this email exists."
		s.renderUsers(w, r, http.StatusConflict, views.UsersData{New: f}, "")
		return
	}
	if err != nil {
		s.serverError(w, r, "cannot add a user", err)
		return
	}
	s.renderUsers(w, r, http.StatusOK, views.UsersData{New: views.NewUserForm{Role: string(store.RoleViewer)},
		OneTimePassword: password, OneTimeFor: added.Email}, "Added "+added.Email+".")
}

// setUserRole changes an account's role (POST /admin/users/{id}/role).
// The user's sessions end: their next request signs in again.
func (s *Server) setUserRole(w http.ResponseWriter, r *http.Request) {
	target, ok := s.otherUser(w, r)
	if !ok {
		return
	}
	role, err := store.ParseRole(r.PostForm.Get("role"))
	if err != nil {
		s.renderUsers(w, r, http.StatusBadRequest, views.UsersData{}, "Choose one of the roles.")
		return
	}
	err = s.change(r, func(tx *store.Store) (store.AuditEntry, error) {
		_, err := tx.SetUserRole(r.Context(), target.ID, role)
		return store.AuditEntry{Action: "user.set_role", Target: userTarget(target.ID),
			Params: map[string]any{"email": target.Email, "from": string(target.Role), "to": string(role)}}, err
	})
	if err != nil {
		s.serverError(w, r, "cannot change a role", err)
		return
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// disableUser and enableUser (POST /admin/users/{id}/disable, /enable).
// Disabling ends the user's sessions at once.
func (s *Server) disableUser(w http.ResponseWriter, r *http.Request) { s.setDisabled(w, r, true) }
func (s *Server) enableUser(w http.ResponseWriter, r *http.Request)  { s.setDisabled(w, r, false) }

func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	target, ok := s.otherUser(w, r)
	if !ok {
		return
	}
	action := "user.enable"
	if disabled {
		action = "user.disable"
	}
	err := s.change(r, func(tx *store.Store) (store.AuditEntry, error) {
		_, err := tx.SetUserDisabled(r.Context(), target.ID, disabled)
		return store.AuditEntry{Action: action, Target: userTarget(target.ID),
			Params: map[string]any{"email": target.Email}}, err
	})
	if err != nil {
		s.serverError(w, r, "cannot change a user", err)
		return
	}
	http.Redirect(w, r, "/admin/users", http.StatusSeeOther)
}

// resetPassword gives an account a new generated password, shown once
// (POST /admin/users/{id}/password). The user's sessions end.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) {
	target, ok := s.otherUser(w, r)
	if !ok {
		return
	}
	password, hash, ok := s.newPassword(w, r)
	if !ok {
		return
	}
	err := s.change(r, func(tx *store.Store) (store.AuditEntry, error) {
		_, err := tx.SetUserPassword(r.Context(), target.ID, hash)
		return store.AuditEntry{Action: "user.reset_password", Target: userTarget(target.ID),
			Params: map[string]any{"email": target.Email}}, err
	})
	if err != nil {
		s.serverError(w, r, "cannot reset a password", err)
		return
	}
	s.renderUsers(w, r, http.StatusOK, views.UsersData{New: views.NewUserForm{Role: string(store.RoleViewer)},
		OneTimePassword: password, OneTimeFor: target.Email}, "")
}

// newPassword generates a password and its hash, answering 500 itself
// when hashing fails.
func (s *Server) newPassword(w http.ResponseWriter, r *http.Request) (password, hash string, ok bool) {
	password = store.GeneratePassword()
	hash, err := store.HashPassword(password)
	if err != nil {
		s.serverError(w, r, "cannot hash a password", err)
		return "", "", false
	}
	return password, hash, true
}

// otherUser parses the form and loads the user named by {id}, answering
// 404 when there is none and 400 when it is the signed-in admin: an admin
// cannot demote, disable or reset themselves from this page (another admin
// can), so nobody locks the last admin out by a slip.
func (s *Server) otherUser(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	if !s.parseForm(w, r) {
		return store.User{}, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.renderError(w, r, http.StatusNotFound, "There is no such user.")
		return store.User{}, false
	}
	target, err := s.staff.User(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.renderError(w, r, http.StatusNotFound, "There is no such user.")
		return store.User{}, false
	}
	if err != nil {
		s.serverError(w, r, "cannot load a user", err)
		return store.User{}, false
	}
	if me, _ := currentUser(r); me.ID == target.ID {
		s.renderUsers(w, r, http.StatusBadRequest, views.UsersData{New: views.NewUserForm{Role: string(store.RoleViewer)}},
			"You cannot change your own account here; ask another admin.")
		return store.User{}, false
	}
	return target, true
}

// parseForm reads a posted form of bounded size, answering 400 itself when
// it cannot.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "The form could not be read; reload the page and try again.")
		return false
	}
	return true
}

// change runs fn, a change made by the signed-in user, and writes the audit
// row fn describes in the same transaction: both commit or neither does.
func (s *Server) change(r *http.Request, fn func(tx *store.Store) (store.AuditEntry, error)) error {
	me, _ := currentUser(r)
	return s.staff.InTx(r.Context(), func(tx *store.Store) error {
		entry, err := fn(tx)
		if err != nil {
			return err
		}
		entry.ActorID, entry.Actor, entry.Outcome, entry.RemoteAddr = &me.ID, me.Email, store.AuditOK, remoteHost(r)
		if err := tx.RecordAudit(r.Context(), entry); err != nil {
			return fmt.Errorf("audit %s: %w", entry.Action, err)
		}
		return nil
	})
}
