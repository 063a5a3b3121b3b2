package views

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// render renders c as a request would and parses the result; it also
// checks what must hold for every page under the Content-Security-Policy.
func render(t *testing.T, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	return renderCtx(t, context.Background(), c)
}

func renderCtx(t *testing.T, ctx context.Context, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	html := buf.String()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	assertCSPSafe(t, doc)
	return doc, html
}

// assertCSPSafe fails on anything script-src 'self' / style-src 'self'
// would block: inline scripts, style elements or attributes, and inline
// event handlers.
func assertCSPSafe(t *testing.T, doc *goquery.Document) {
	t.Helper()
	doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, ok := s.Attr("src"); !ok || src == "" || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("inline <script>: %s", outer(s))
		}
	})
	if n := doc.Find("style").Length(); n > 0 {
		t.Errorf("%d <style> elements", n)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if a.Key == "style" || strings.HasPrefix(a.Key, "on") || strings.HasPrefix(a.Key, "hx-on") {
				t.Errorf("attribute %s=%q on <%s>", a.Key, a.Val, goquery.NodeName(s))
			}
		}
	})
}

func outer(s *goquery.Selection) string {
	h, _ := goquery.OuterHtml(s)
	return h
}

// finder is a document or a selection.
type finder interface {
	Find(selector string) *goquery.Selection
}

// one returns the single element matching sel, failing when there are none
// or several.
func one(t *testing.T, in finder, sel string) *goquery.Selection {
	t.Helper()
	s := in.Find(sel)
	if s.Length() != 1 {
		t.Fatalf("%s: %d matches, want 1", sel, s.Length())
	}
	return s
}

func text(s *goquery.Selection) string {
	return strings.Join(strings.Fields(s.Text()), " ")
}

func attr(t *testing.T, s *goquery.Selection, name, want string) {
	t.Helper()
	if got, ok := s.Attr(name); !ok || got != want {
		t.Errorf("%s: %s=%q (present %v), want %q", goquery.NodeName(s), name, got, ok, want)
	}
}

func signedIn() Page {
	return Page{
		Title: "Users",
		User:  &Viewer{Email: "ada@example.com", Name: "Ada", Role: "admin"},
		Nav: []NavItem{
			{Label: "Overview", Href: "/"},
			{Label: "Charges", Href: "/charges"},
			{Label: "Users", Href: "/admin/users", Current: true},
		},
	}
}

func hasAttr(t *testing.T, s *goquery.Selection, name string) {
	t.Helper()
	if _, ok := s.Attr(name); !ok {
		t.Errorf("%s has no %s attribute", goquery.NodeName(s), name)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// checkNoInjected fails when the hostile strings produced elements or
// attributes: an <img>, a <script> without src, or any on* attribute.
func checkNoInjected(t *testing.T, all *goquery.Selection) {
	t.Helper()
	all.Each(func(_ int, s *goquery.Selection) {
		switch goquery.NodeName(s) {
		case "img", "b":
			t.Errorf("injected <%s>: %s", goquery.NodeName(s), outer(s))
		case "script":
			switch s.AttrOr("src", "") {
			case "/static/htmx.min.js", "/static/htmx-ext-sse.js", "/static/paydesk-live.js":
			default:
				t.Errorf("injected script: %s", outer(s))
			}
		}
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(a.Key, "on") || a.Key == "src" && goquery.NodeName(s) != "script" {
				t.Errorf("injected attribute %s on <%s>", a.Key, goquery.NodeName(s))
			}
		}
	})
}
