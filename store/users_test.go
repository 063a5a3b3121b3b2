package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// fakeHash stands in for a password hash where the test does not log in:
// hashing costs tens of milliseconds.
const fakeHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"

func addUser(t *testing.T, st *store.Store, email string, role store.Role) store.User {
	t.Helper()
	u, err := st.AddUser(ctx, email, "Name of "+email, role, fakeHash)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAddUserAndLookup(t *testing.T) {
	st := storetest.New(t)
	u, err := st.AddUser(ctx, "  Ada@Example.COM ", " Ada Lovelace ", store.RoleBilling, fakeHash)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Email != "ada@example.com" || u.Name != "Ada Lovelace" || u.Role != store.RoleBilling ||
		u.Disabled || u.SessionEpoch != 1 || u.LastLoginAt != nil || u.CreatedAt.IsZero() || u.PasswordHash != fakeHash {
		t.Fatalf("added %+v", u)
	}

	for _, email := range []string{"ada@example.com", "ADA@example.com", " Ada@Example.com\n"} {
		got, err := st.UserByEmail(ctx, email)
		if err != nil || got.ID != u.ID {
			t.Fatalf("UserByEmail(%q) = %+v, %v", email, got, err)
		}
	}
	if got, err := st.User(ctx, u.ID); err != nil || got.Email != u.Email {
		t.Fatalf("User(%d) = %+v, %v", u.ID, got, err)
	}
	if _, err := st.User(ctx, u.ID+100); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("User(unknown) error %v, want ErrNotFound", err)
	}
	if _, err := st.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UserByEmail(unknown) error %v, want ErrNotFound", err)
	}

	if _, err := st.AddUser(ctx, "ADA@EXAMPLE.COM", "Impostor", store.RoleAdmin, fakeHash); !errors.Is(err, store.ErrEmailTaken) {
		t.Fatalf("duplicate email in another case: error %v, want ErrEmailTaken", err)
	}
	// The unique index is on lower(email), so even a row written around
	// AddUser in another case is refused.
	if _, err := st.DB().ExecContext(ctx, `INSERT INTO users (email, role, password_hash) VALUES ('ADA@example.com', 'viewer', 'x')`); err == nil {
		t.Fatal("the database took a second ada@example.com in another case")
	}
	if _, err := st.AddUser(ctx, "bob@example.com", "", store.Role("owner"), fakeHash); err == nil {
		t.Fatal("AddUser took an unknown role")
	}

	addUser(t, st, "carol@example.com", store.RoleViewer)
	addUser(t, st, "al@example.com", store.RoleAdmin)
	all, err := st.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, u := range all {
		emails = append(emails, u.Email)
	}
	if got := strings.Join(emails, ","); got != "ada@example.com,al@example.com,carol@example.com" {
		t.Fatalf("Users by email = %s", got)
	}

	if err := st.RecordLogin(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.User(ctx, u.ID); got.LastLoginAt == nil {
		t.Fatal("RecordLogin left last_login_at empty")
	}
	if err := st.RecordLogin(ctx, u.ID+100); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordLogin(unknown) error %v, want ErrNotFound", err)
	}
}

// A duplicate inside a transaction leaves the transaction usable, so the
// refusal can be recorded in it.
func TestAddUserDuplicateInTransaction(t *testing.T) {
	st := storetest.New(t)
	addUser(t, st, "ada@example.com", store.RoleViewer)
	err := st.InTx(ctx, func(tx *store.Store) error {
		if _, err := tx.AddUser(ctx, "Ada@example.com", "", store.RoleViewer, fakeHash); !errors.Is(err, store.ErrEmailTaken) {
			t.Fatalf("error %v, want ErrEmailTaken", err)
		}
		return tx.RecordAudit(ctx, store.AuditEntry{Actor: "cli", Action: "user.add", Outcome: store.AuditRefused})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRoles(t *testing.T) {
	order := []store.Role{store.RoleViewer, store.RoleSupport, store.RoleBilling, store.RoleAdmin}
	for i, r := range order {
		if store.Roles[i] != r {
			t.Fatalf("Roles = %v, want %v", store.Roles, order)
		}
		for j, min := range order {
			if got := r.AtLeast(min); got != (i >= j) {
				t.Errorf("%s.AtLeast(%s) = %v", r, min, got)
			}
		}
		if got, err := store.ParseRole(" " + strings.ToUpper(string(r)) + " "); err != nil || got != r {
			t.Errorf("ParseRole(%s) = %q, %v", r, got, err)
		}
	}
	if store.Role("owner").AtLeast(store.RoleViewer) || store.RoleAdmin.AtLeast("owner") || store.Role("").AtLeast("") {
		t.Error("an unknown role compared as known")
	}
	_, err := store.ParseRole("owner")
	if err == nil || !strings.Contains(err.Error(), "viewer, support, billing, admin") {
		t.Fatalf("ParseRole(owner) error %v, want one naming the roles", err)
	}
}

// Each change that must end sessions bumps the epoch and ends them.
func TestUserChangesEndSessions(t *testing.T) {
	st := storetest.New(t)
	cases := []struct {
		name   string
		change func(id int64) (store.User, error)
		check  func(store.User) bool
	}{
		{"role", func(id int64) (store.User, error) { return st.SetUserRole(ctx, id, store.RoleAdmin) },
			func(u store.User) bool { return u.Role == store.RoleAdmin }},
		{"disable", func(id int64) (store.User, error) { return st.SetUserDisabled(ctx, id, true) },
			func(u store.User) bool { return u.Disabled }},
		{"password", func(id int64) (store.User, error) { return st.SetUserPassword(ctx, id, "$argon2id$new") },
			func(u store.User) bool { return u.PasswordHash == "$argon2id$new" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := addUser(t, st, c.name+"@example.com", store.RoleViewer)
			other := addUser(t, st, c.name+"-other@example.com", store.RoleViewer)
			tokens := []string{newSession(t, st, u.ID), newSession(t, st, u.ID)}
			otherToken := newSession(t, st, other.ID)

			changed, err := c.change(u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(changed) || changed.SessionEpoch != u.SessionEpoch+1 || !changed.UpdatedAt.After(u.UpdatedAt) {
				t.Fatalf("after the change: %+v (before %+v)", changed, u)
			}
			if n := sessionCount(t, st, u.ID); n != 0 {
				t.Fatalf("%d sessions left, want none", n)
			}
			for _, tok := range tokens {
				if _, _, err := st.SessionUser(ctx, tok, time.Hour, time.Hour); !errors.Is(err, store.ErrSessionEnded) {
					t.Fatalf("SessionUser after the change: %v, want ErrSessionEnded", err)
				}
			}
			if _, _, err := st.SessionUser(ctx, otherToken, time.Hour, time.Hour); err != nil {
				t.Fatalf("another user's session ended too: %v", err)
			}
			if _, err := c.change(u.ID + 1000); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("change of an unknown user: %v, want ErrNotFound", err)
			}
		})
	}

	u := addUser(t, st, "back@example.com", store.RoleSupport)
	if _, err := st.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	enabled, err := st.SetUserDisabled(ctx, u.ID, false)
	if err != nil || enabled.Disabled || enabled.SessionEpoch != 3 {
		t.Fatalf("enable: %+v, %v", enabled, err)
	}
	if _, err := st.SetUserRole(ctx, u.ID, "owner"); err == nil {
		t.Fatal("SetUserRole took an unknown role")
	}
}
