package views

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

func TestLayoutSignedIn(t *testing.T) {
	p := signedIn()
	p.Flash = "Role changed."
	doc, html := render(t, HomePage(p, HomeData{}))

	if got := doc.Find("html").AttrOr("lang", ""); got != "en" {
		t.Errorf("lang=%q", got)
	}
	attr(t, one(t, doc, "meta[charset]"), "charset", "utf-8")
	one(t, doc, `meta[name="viewport"]`)
	if got := text(one(t, doc, "title")); got != "Users · paydesk" {
		t.Errorf("title %q", got)
	}
	attr(t, one(t, doc, `link[rel="stylesheet"]`), "href", "/static/paydesk.css")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(one(t, doc, `meta[name="htmx-config"]`).AttrOr("content", "")), &cfg); err != nil {
		t.Errorf("htmx-config is not JSON: %v", err)
	} else if cfg["includeIndicatorStyles"] != false {
		t.Errorf("htmx would insert an inline <style>: %v", cfg)
	}
	// htmx, then the SSE extension and the live script (signed-in pages
	// only), all deferred so they run in this order.
	scripts := doc.Find("script")
	wantScripts := []string{"/static/htmx.min.js", "/static/htmx-ext-sse.js", "/static/paydesk-live.js"}
	if scripts.Length() != len(wantScripts) {
		t.Errorf("script: %d matches, want %d", scripts.Length(), len(wantScripts))
	}
	scripts.Each(func(i int, script *goquery.Selection) {
		if i < len(wantScripts) {
			attr(t, script, "src", wantScripts[i])
		}
		if _, ok := script.Attr("defer"); !ok {
			t.Errorf("script %d is not deferred", i)
		}
	})
	attr(t, one(t, doc, "body"), "sse-connect", "/live")
	attr(t, one(t, doc, "body"), "hx-ext", "sse")
	one(t, doc, `header #mirror-status[sse-swap="status,resync"]`)
	if !strings.HasPrefix(strings.ToLower(html), "<!doctype html>") {
		t.Errorf("document starts %.20q", html)
	}

	attr(t, one(t, doc, "a.skip-link"), "href", "#main")
	one(t, doc, "main#main")

	nav := one(t, doc, `header nav[aria-label="Main"]`)
	links := nav.Find("a")
	if links.Length() != 3 {
		t.Fatalf("%d nav links, want 3", links.Length())
	}
	current := nav.Find(`a[aria-current="page"]`)
	if current.Length() != 1 || text(current) != "Users" {
		t.Errorf("current nav item: %d, %q", current.Length(), text(current))
	}
	attr(t, current, "href", "/admin/users")

	if got := text(one(t, doc, `[data-testid="user-email"]`)); got != "ada@example.com" {
		t.Errorf("user email %q", got)
	}
	if got := text(one(t, doc, `header [data-testid="user-role"]`)); got != "admin" {
		t.Errorf("user role %q", got)
	}
	signout := one(t, doc, `header form[action="/logout"]`)
	attr(t, signout, "method", "post")
	if got := text(signout.Find(`button[type="submit"]`)); got != "Sign out" {
		t.Errorf("sign-out button %q", got)
	}

	badge := one(t, doc, `header [data-testid="mode-badge"]`)
	attr(t, badge, "data-mode", "test")
	if got := text(badge.Find("strong")); got != "TEST MODE" {
		t.Errorf("badge %q", got)
	}

	flash := one(t, doc, `main [data-testid="flash"]`)
	attr(t, flash, "role", "status")
	if text(flash) != "Role changed." {
		t.Errorf("flash %q", text(flash))
	}
}

func TestLayoutLiveAndSignedOut(t *testing.T) {
	doc, _ := render(t, LoginPage(Page{Title: "Sign in", Live: true}, LoginForm{}))
	badge := one(t, doc, `[data-testid="mode-badge"]`)
	attr(t, badge, "data-mode", "live")
	if got := text(badge.Find("strong")); got != "LIVE" {
		t.Errorf("badge %q", got)
	}
	for _, sel := range []string{"nav", `[data-testid="account"]`, `form[action="/logout"]`, `[data-testid="flash"]`} {
		if n := doc.Find(sel).Length(); n != 0 {
			t.Errorf("signed out page has %d %s", n, sel)
		}
	}
}

func TestLayoutHostileNav(t *testing.T) {
	p := signedIn()
	p.Nav = append(p.Nav, NavItem{Label: "<b>x</b>", Href: "javascript:alert(1)"})
	doc, _ := render(t, HomePage(p, HomeData{}))
	a := doc.Find("nav a").Last()
	if href := a.AttrOr("href", ""); href == "javascript:alert(1)" {
		t.Errorf("unsafe href kept: %q", href)
	}
	if a.Find("b").Length() != 0 || text(a) != "<b>x</b>" {
		t.Errorf("label not escaped: %s", outer(a))
	}
}

func TestLayoutFragment(t *testing.T) {
	p := signedIn()
	p.Flash = "Saved."
	doc, html := renderCtx(t, WithFragment(context.Background()), HomePage(p, HomeData{ShowEvents: true, QueuedEvents: 3}))
	for _, sel := range []string{"header", "nav", "script", "link", "main"} {
		if n := doc.Find(sel).Length(); n != 0 {
			t.Errorf("fragment has %d %s", n, sel)
		}
	}
	if strings.HasPrefix(strings.ToLower(html), "<!doctype") {
		t.Error("fragment has a doctype")
	}
	if got := text(one(t, doc, "title")); got != "Users · paydesk" {
		t.Errorf("fragment title %q", got)
	}
	one(t, doc, `[data-testid="flash"]`)
	if got := text(one(t, doc, `[data-testid="count-queued-events"]`)); got != "3" {
		t.Errorf("fragment content: %q", got)
	}
}

func TestWantsFragment(t *testing.T) {
	for _, c := range []struct {
		headers map[string]string
		want    bool
	}{
		{nil, false},
		{map[string]string{"HX-Request": "true"}, true},
		{map[string]string{"HX-Request": "true", "HX-Boosted": "true"}, false},
		{map[string]string{"HX-Request": "true", "HX-History-Restore-Request": "true"}, false},
	} {
		h := http.Header{}
		for k, v := range c.headers {
			h.Set(k, v)
		}
		if got := WantsFragment(h); got != c.want {
			t.Errorf("WantsFragment(%v) = %v, want %v", c.headers, got, c.want)
		}
	}
}
