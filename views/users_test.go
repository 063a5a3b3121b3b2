package views

import (
	"fmt"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

func usersData() UsersData {
	return UsersData{
		Users: []UserRow{
			{ID: 1, Email: "ada@example.com", Name: "Ada", Role: "admin", LastLogin: "2024-05-01 09:30", IsSelf: true},
			{ID: 2, Email: "bob@example.com", Name: "Bob", Role: "support", LastLogin: "never"},
			{ID: 3, Email: "cy@example.com", Name: "Cy", Role: "billing", Disabled: true, LastLogin: "2024-04-02 17:00"},
		},
		Roles: []string{"viewer", "support", "billing", "admin"},
	}
}

func TestUsersTable(t *testing.T) {
	d := usersData()
	doc, _ := render(t, UsersPage(signedIn(), d))

	if got := text(one(t, doc, "h1")); got != "Users" {
		t.Errorf("h1 %q", got)
	}
	table := one(t, doc, `[data-testid="users-table"]`)
	one(t, table, "caption")
	if n := table.Find(`thead th[scope="col"]`).Length(); n != 6 {
		t.Errorf("%d column headers, want 6", n)
	}
	rows := table.Find(`tbody tr`)
	if rows.Length() != len(d.Users) {
		t.Fatalf("%d rows, want %d", rows.Length(), len(d.Users))
	}
	if n := doc.Find(`[data-testid="one-time-password"]`).Length(); n != 0 {
		t.Errorf("one-time password box shown without a password")
	}

	for _, u := range d.Users {
		row := one(t, table, fmt.Sprintf(`[data-testid="user-row-%d"]`, u.ID))
		cells := row.Find("td")
		if got := text(cells.Eq(1)); got != u.Name {
			t.Errorf("user %d name %q", u.ID, got)
		}
		if got := text(row.Find(`[data-testid="row-role"]`)); got != u.Role {
			t.Errorf("user %d role %q", u.ID, got)
		}
		if got := text(cells.Eq(4)); got != u.LastLogin {
			t.Errorf("user %d last login %q", u.ID, got)
		}
		status := text(row.Find(`[data-testid="row-status"]`))
		if (status == "Disabled") != u.Disabled {
			t.Errorf("user %d status %q, disabled %v", u.ID, status, u.Disabled)
		}

		base := fmt.Sprintf("/admin/users/%d/", u.ID)
		roleForms := row.Find(fmt.Sprintf(`form[action="%srole"]`, base))
		statusForms := row.Find(`form[action$="/disable"], form[action$="/enable"]`)
		if u.IsSelf {
			// An admin's own account is changed by another admin.
			if n := row.Find("form").Length(); n != 0 {
				t.Errorf("own row has %d forms", n)
			}
			if got := text(one(t, row, `[data-testid="self-marker"]`)); got != "(you)" {
				t.Errorf("self marker %q", got)
			}
			continue
		}
		pw := one(t, row, fmt.Sprintf(`form[action="%spassword"]`, base))
		attr(t, pw, "method", "post")
		if got := text(pw.Find(`button[type="submit"]`)); got != "Reset password" {
			t.Errorf("user %d reset button %q", u.ID, got)
		}
		if roleForms.Length() != 1 {
			t.Fatalf("user %d: %d role forms", u.ID, roleForms.Length())
		}
		attr(t, roleForms, "method", "post")
		sel := one(t, roleForms, `select[name="role"]`)
		if got := sel.Find("option[selected]"); got.Length() != 1 || got.AttrOr("value", "") != u.Role {
			t.Errorf("user %d: selected role %q", u.ID, got.AttrOr("value", ""))
		}
		if n := sel.Find("option").Length(); n != len(d.Roles) {
			t.Errorf("user %d: %d role options", u.ID, n)
		}
		if id := sel.AttrOr("id", ""); roleForms.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("user %d: role select has no label", u.ID)
		}
		if got := text(roleForms.Find(`button[type="submit"]`)); got != "Change role" {
			t.Errorf("user %d role button %q", u.ID, got)
		}

		want := base + "disable"
		if u.Disabled {
			want = base + "enable"
		}
		if statusForms.Length() != 1 || statusForms.AttrOr("action", "") != want {
			t.Errorf("user %d: disable/enable forms %d, action %q, want %q", u.ID, statusForms.Length(), statusForms.AttrOr("action", ""), want)
		}
		attr(t, statusForms, "method", "post")
	}
}

func TestUsersOneTimePassword(t *testing.T) {
	d := usersData()
	d.OneTimePassword = "tR4x-9kLm-Qw2e"
	d.OneTimeFor = "bob@example.com"
	doc, _ := render(t, UsersPage(signedIn(), d))

	box := one(t, doc, `[data-testid="one-time-password"]`)
	attr(t, box, "role", "status")
	if got := text(box.Find("code")); got != d.OneTimePassword {
		t.Errorf("password %q", got)
	}
	if got := text(box); got != "New password for bob@example.com: tR4x-9kLm-Qw2e — shown once; give it to them over a safe channel." {
		t.Errorf("notice %q", got)
	}
}

func TestAddUserForm(t *testing.T) {
	d := usersData()
	d.New = NewUserForm{
		Email: "not-an-email",
		Name:  "Dee",
		Role:  "billing",
		Errors: map[string]string{
			"email": "Enter an email address.",
			"role":  "Choose a role.",
			"":      "Could not add the user; try again.",
		},
	}
	doc, _ := render(t, UsersPage(signedIn(), d))

	form := one(t, doc, `[data-testid="add-user-form"]`)
	attr(t, form, "method", "post")
	attr(t, form, "action", "/admin/users")
	attr(t, one(t, form, `input[name="email"]`), "value", "not-an-email")
	attr(t, one(t, form, `input[name="name"]`), "value", "Dee")
	if got := form.Find(`select[name="role"] option[selected]`).AttrOr("value", ""); got != "billing" {
		t.Errorf("kept role %q", got)
	}
	for _, in := range []string{`input[name="email"]`, `input[name="name"]`, `select[name="role"]`} {
		id := form.Find(in).AttrOr("id", "")
		if id == "" || form.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("%s has no label", in)
		}
	}
	if !containsText(form, "password is generated") {
		t.Error("no note about the generated password")
	}

	for field, want := range map[string]string{"email": "Enter an email address.", "role": "Choose a role."} {
		msg := one(t, form, `[data-testid="error-`+field+`"]`)
		if text(msg) != want {
			t.Errorf("%s error %q", field, text(msg))
		}
		input := form.Find(`[name="` + field + `"]`)
		attr(t, input, "aria-describedby", msg.AttrOr("id", "?"))
		attr(t, input, "aria-invalid", "true")
	}
	if n := form.Find(`[data-testid="error-name"]`).Length(); n != 0 {
		t.Error("name has an error it was not given")
	}
	if _, ok := form.Find(`input[name="name"]`).Attr("aria-invalid"); ok {
		t.Error("name marked invalid")
	}
	other := one(t, doc, `[data-testid="add-user-errors"]`)
	attr(t, other, "role", "alert")
	if text(other) != "Could not add the user; try again." {
		t.Errorf("form error %q", text(other))
	}
}

func TestAddUserFormDefaults(t *testing.T) {
	d := usersData()
	d.Roles = nil // DefaultRoles
	doc, _ := render(t, UsersPage(signedIn(), d))
	form := one(t, doc, `[data-testid="add-user-form"]`)
	if got := form.Find(`option[selected]`).AttrOr("value", ""); got != "viewer" {
		t.Errorf("preselected role %q, want the lowest", got)
	}
	if n := form.Find("option").Length(); n != len(DefaultRoles) {
		t.Errorf("%d role options", n)
	}
	if n := doc.Find(`[role="alert"], .field-error`).Length(); n != 0 {
		t.Errorf("%d errors on a fresh form", n)
	}
}

func TestRoleOptionsKeepsUnknownCurrentRole(t *testing.T) {
	got := roleOptions([]string{"viewer", "admin"}, "auditor")
	if len(got) != 3 || got[2] != "auditor" {
		t.Errorf("roleOptions = %v", got)
	}
}

func containsText(s *goquery.Selection, sub string) bool {
	return s.FilterFunction(func(_ int, s *goquery.Selection) bool {
		return len(sub) > 0 && contains(text(s), sub)
	}).Length() > 0
}
