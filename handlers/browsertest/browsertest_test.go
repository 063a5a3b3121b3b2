package browsertest_test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"paydesk/handlers/browsertest"
)

// serve starts a test server for handler, closed at the end of the test.
func serve(t *testing.T, handler http.Handler) *httptest.Server {
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// page writes a small HTML page.
func page(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><html><head><title>test</title></head><body>%s</body></html>", body)
}

// TestFormRoundTrip fills and submits a form, and checks what the server got,
// the resulting page and the screenshot.
func TestFormRoundTrip(t *testing.T) {
	received := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<form method="post" action="/notes"><input id="note" name="note"><button id="save">Save</button></form>`)
	})
	mux.HandleFunc("POST /notes", func(w http.ResponseWriter, r *http.Request) {
		note := r.FormValue("note")
		received <- note
		page(w, `<h1 id="result">Saved: `+html.EscapeString(note)+`</h1>`)
	})
	srv := serve(t, mux)

	tab := browsertest.New(t).Tab(t)
	tab.Run(t,
		chromedp.Navigate(srv.URL),
		chromedp.SendKeys(chromedp.CSS("#note"), "refund for Ada <3"),
		chromedp.Click(chromedp.CSS("#save")),
	)
	select {
	case got := <-received:
		if got != "refund for Ada <3" {
			t.Errorf("server got note %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server never got the form post")
	}
	if got := tab.Text(t, "#result"); got != "Saved: refund for Ada <3" {
		t.Errorf("result text = %q", got)
	}
	if title := browsertest.Get(t, tab, chromedp.Title()); title != "test" {
		t.Errorf("title = %q", title)
	}

	path := tab.Screenshot(t, "saved")
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s is not a PNG (starts %q)", path, png[:min(8, len(png))])
	}
	if errs := tab.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// TestDialogsAndConsoleErrors checks that a script's alert is recorded, and
// that escaped markup runs nothing.
func TestDialogsAndConsoleErrors(t *testing.T) {
	const injected = `<script>alert(1)</script>`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /alert", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<script>alert('x')</script><p id="done">done</p>`)
	})
	mux.HandleFunc("GET /escaped", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<p id="name">`+html.EscapeString(injected)+`</p>`)
	})
	mux.HandleFunc("GET /errors", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<p id="done">done</p><script>console.error("bad", 42); throw new Error("boom")</script>`)
	})
	srv := serve(t, mux)
	b := browsertest.New(t)

	t.Run("alert", func(t *testing.T) {
		tab := b.Tab(t)
		tab.Run(t, chromedp.Navigate(srv.URL+"/alert"))
		if got := tab.Text(t, "#done"); got != "done" {
			t.Errorf("text after the alert = %q", got)
		}
		if got := tab.Dialogs(); !slices.Equal(got, []string{"alert: x"}) {
			t.Errorf("Dialogs() = %q, want [alert: x]", got)
		}
	})
	t.Run("escaped", func(t *testing.T) {
		tab := b.Tab(t)
		tab.Run(t, chromedp.Navigate(srv.URL+"/escaped"))
		if got := tab.Text(t, "#name"); got != injected {
			t.Errorf("text = %q, want the markup shown as text", got)
		}
		if got := tab.Dialogs(); len(got) > 0 {
			t.Errorf("Dialogs() = %q, want none", got)
		}
		if got := tab.ConsoleErrors(); len(got) > 0 {
			t.Errorf("ConsoleErrors() = %q, want none", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		tab := b.Tab(t)
		tab.Run(t, chromedp.Navigate(srv.URL+"/errors"))
		tab.Text(t, "#done")
		got := tab.ConsoleErrors()
		want := []string{"console.error: bad 42", "exception: Uncaught Error: boom"}
		if len(got) != 2 || got[0] != want[0] || !bytes.HasPrefix([]byte(got[1]), []byte(want[1])) {
			t.Errorf("ConsoleErrors() = %q, want %q (the exception with its stack)", got, want)
		}
	})
}

// post is what server B saw of one form post.
type post struct {
	status            int
	fetchSite, origin string
}

// statusRecorder keeps the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// TestCrossOriginFormPost shows that http.CrossOriginProtection, fed by the
// headers a real browser sends (Sec-Fetch-Site, Origin), refuses a form that
// another origin (server A, another port) posts to server B, and accepts B's
// own form.
func TestCrossOriginFormPost(t *testing.T) {
	posts := make(chan post, 4)
	muxB := http.NewServeMux()
	muxB.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<form method="post" action="/transfer"><input name="amount" value="100"><button id="go">Pay</button></form>`)
	})
	muxB.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
		page(w, `<p id="result">transferred `+html.EscapeString(r.FormValue("amount"))+`</p>`)
	})
	protected := http.NewCrossOriginProtection().Handler(muxB)
	// Record outside the protection, which answers 403 without calling muxB.
	srvB := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		protected.ServeHTTP(rec, r)
		if r.Method == http.MethodPost {
			posts <- post{rec.status, r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin")}
		}
	}))
	srvA := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page(w, `<form method="post" action="`+srvB.URL+`/transfer"><input name="amount" value="999"><button id="go">Win a prize</button></form>`)
	}))

	tab := browsertest.New(t).Tab(t)
	// submit clicks #go on the page at url and returns the post as B saw it
	// and the status the browser got.
	submit := func(url string) (post, int64) {
		t.Helper()
		tab.Run(t, chromedp.Navigate(url))
		ctx, cancel := context.WithTimeout(tab.Ctx, browsertest.RunTimeout)
		defer cancel()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#go")))
		if err != nil {
			t.Fatalf("submitting the form of %s: %v", url, err)
		}
		select {
		case p := <-posts:
			return p, resp.Status
		case <-time.After(10 * time.Second):
			t.Fatalf("server B never got the post from %s", url)
			return post{}, 0
		}
	}

	cross, browserStatus := submit(srvA.URL)
	t.Logf("A → B: %+v", cross)
	if cross.status != http.StatusForbidden || browserStatus != http.StatusForbidden {
		t.Errorf("cross-origin post: server answered %d, browser saw %d; want 403", cross.status, browserStatus)
	}
	// Same host, other port: another origin but the same site.
	if cross.fetchSite != "same-site" || cross.origin != srvA.URL {
		t.Errorf("cross-origin post headers: Sec-Fetch-Site %q, Origin %q; want same-site, %s", cross.fetchSite, cross.origin, srvA.URL)
	}
	tab.Screenshot(t, "cross-origin-refused")

	same, browserStatus := submit(srvB.URL)
	t.Logf("B → B: %+v", same)
	if same.status != http.StatusOK || browserStatus != http.StatusOK {
		t.Errorf("same-origin post: server answered %d, browser saw %d; want 200", same.status, browserStatus)
	}
	if same.fetchSite != "same-origin" {
		t.Errorf("same-origin post: Sec-Fetch-Site %q, want same-origin", same.fetchSite)
	}
	if got := tab.Text(t, "#result"); got != "transferred 100" {
		t.Errorf("result = %q", got)
	}
	tab.Screenshot(t, "same-origin-accepted")
}
