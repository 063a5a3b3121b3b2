package views

import "testing"

func TestLoginPage(t *testing.T) {
	doc, _ := render(t, LoginPage(Page{Title: "Sign in"}, LoginForm{
		Email: "ada@example.com",
		Next:  "/charges?status=failed",
		Error: "Email or password is wrong.",
	}))

	if got := text(one(t, doc, "h1")); got != "Sign in" {
		t.Errorf("h1 %q", got)
	}
	form := one(t, doc, `[data-testid="login-form"]`)
	attr(t, form, "method", "post")
	attr(t, form, "action", "/login")

	alert := one(t, doc, `[data-testid="login-error"]`)
	attr(t, alert, "role", "alert")
	if text(alert) != "Email or password is wrong." {
		t.Errorf("error %q", text(alert))
	}
	// The error comes before the form.
	if alert.NextAllFiltered(`[data-testid="login-form"]`).Length() != 1 {
		t.Error("error is not above the form")
	}

	email := one(t, form, `input[name="email"]`)
	attr(t, email, "type", "email")
	attr(t, email, "autocomplete", "username")
	attr(t, email, "value", "ada@example.com")
	hasAttr(t, email, "required")

	pw := one(t, form, `input[name="password"]`)
	attr(t, pw, "type", "password")
	attr(t, pw, "autocomplete", "current-password")
	hasAttr(t, pw, "required")
	if _, ok := pw.Attr("value"); ok {
		t.Error("password field has a value")
	}

	attr(t, one(t, form, `input[type="hidden"][name="next"]`), "value", "/charges?status=failed")

	for _, in := range []string{"email", "password"} {
		id := form.Find(`input[name="`+in+`"]`).AttrOr("id", "")
		if id == "" || form.Find(`label[for="`+id+`"]`).Length() != 1 {
			t.Errorf("%s input has no label (id %q)", in, id)
		}
	}
}

func TestLoginPageNoError(t *testing.T) {
	doc, _ := render(t, LoginPage(Page{Title: "Sign in"}, LoginForm{}))
	if n := doc.Find(`[data-testid="login-error"], [role="alert"]`).Length(); n != 0 {
		t.Errorf("%d alerts without an error", n)
	}
	hasAttr(t, one(t, doc, `input[name="email"]`), "autofocus")
}
