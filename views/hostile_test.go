package views

import (
	"strings"
	"testing"
)

// Strings a user, Stripe or an attacker can put into names, emails, audit
// parameters and filters. Each must come out as text.
var hostile = []string{
	"<script>alert(1)</script>",
	`"><img src=x onerror=alert(1)>`,
	"evil\u202Efdp.exe",
	"Zoë 💸🧾 Ø",
}

func TestHostileStringsRenderAsText(t *testing.T) {
	for _, h := range hostile {
		t.Run(h, func(t *testing.T) {
			p := signedIn()
			p.User.Email = h
			p.User.Role = h
			p.Flash = h
			p.Title = h

			users := usersData()
			users.Users[1].Email = h
			users.Users[1].Name = h
			users.Users[1].LastLogin = h
			users.New = NewUserForm{Email: h, Name: h, Role: h, Errors: map[string]string{"email": h, "x": h}}
			users.OneTimeFor = h
			users.OneTimePassword = h

			audit := AuditData{
				Filter:  AuditFilter{Actor: h, Action: h, Target: h, From: h, To: h},
				Rows:    []AuditRow{{ID: 1, At: h, Actor: h, Action: h, Target: h, Params: h, Outcome: h, StripeRequestID: h, RemoteAddr: h}},
				NextURL: "/admin/audit?actor=" + h,
				Error:   h,
			}

			pages := map[string]struct {
				render func(t *testing.T) string
				min    int // at least this many text occurrences of h
			}{
				"login": {func(t *testing.T) string {
					doc, _ := render(t, LoginPage(Page{Title: h, Flash: h}, LoginForm{Email: h, Next: h, Error: h}))
					checkNoInjected(t, doc.Find("*"))
					attr(t, one(t, doc, `input[name="email"]`), "value", h)
					attr(t, one(t, doc, `input[name="next"]`), "value", h)
					return doc.Text()
				}, 2},
				"users": {func(t *testing.T) string {
					doc, _ := render(t, UsersPage(p, users))
					checkNoInjected(t, doc.Find("*"))
					attr(t, one(t, doc, `[data-testid="add-user-form"] input[name="email"]`), "value", h)
					return doc.Text()
				}, 9},
				"audit": {func(t *testing.T) string {
					doc, _ := render(t, AuditPage(p, audit))
					checkNoInjected(t, doc.Find("*"))
					attr(t, one(t, doc, `input[name="actor"]`), "value", h)
					return doc.Text()
				}, 10},
				"error": {func(t *testing.T) string {
					doc, _ := render(t, ErrorPage(p, 404, h))
					checkNoInjected(t, doc.Find("*"))
					return doc.Text()
				}, 4},
			}
			for name, pg := range pages {
				got := strings.Count(pg.render(t), h)
				if got < pg.min {
					t.Errorf("%s: %q appears %d times as text, want at least %d", name, h, got, pg.min)
				}
			}
		})
	}
}
