// Package browsertest drives headless Chromium from Go tests (with chromedp).
// It is a test helper: import it only from _test.go files.
//
// New skips the test with a loud notice when no Chromium is installed, unless
// PAYDESK_REQUIRE_BROWSER=1 (CI), which makes a missing browser a failure.
// Set PAYDESK_CHROMIUM to use a particular binary.
//
// chromedp (v0.23) actions return their value: actions that return nothing
// are chromedp.Action[chromedp.Void] and go to Tab.Run; for one that returns
// a value, such as chromedp.Title(), use Get.
//
//	b := browsertest.New(t)
//	tab := b.Tab(t)
//	tab.Run(t, chromedp.Navigate(srv.URL), chromedp.Click(chromedp.CSS("#send")))
//	if got := tab.Text(t, "#result"); got != "Saved" { ... }
//	tab.Screenshot(t, "saved")
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// RunTimeout bounds each Run, Get, Text and Screenshot call of a Tab.
const RunTimeout = 30 * time.Second

// Browser is a headless Chromium for one test.
type Browser struct {
	ctx context.Context // the browser's chromedp context; tabs derive from it
}

// New starts headless Chromium for t (one browser process per call, closed in
// t.Cleanup). It finds the binary (PAYDESK_CHROMIUM, then chromium,
// chromium-browser, google-chrome on PATH). When none is found it calls
// t.Skip with a loud message, unless PAYDESK_REQUIRE_BROWSER=1: then t.Fatal.
func New(t testing.TB) *Browser {
	t.Helper()
	path := findChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		// Root (CI, containers) cannot use Chromium's sandbox; the tests
		// only load pages served by the test itself.
		chromedp.NoSandbox,
		chromedp.Flag("headless", "new"),
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the process to exit
	})
	// The first Do starts the browser and binds it to ctx, which has no
	// timeout: a timeout here would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: starting %s: %v", path, err)
	}
	return &Browser{ctx: ctx}
}

var skipNotice sync.Once

// findChromium returns the browser binary, or skips or fails t when there is none.
func findChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PAYDESK_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("browsertest: PAYDESK_CHROMIUM=%q: %v", p, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const missing = "no Chromium found (PAYDESK_CHROMIUM unset; no chromium, chromium-browser or " +
		"google-chrome on PATH). Install it (Debian: apt-get install chromium) or set PAYDESK_CHROMIUM."
	if os.Getenv("PAYDESK_REQUIRE_BROWSER") == "1" {
		t.Fatal("browsertest: PAYDESK_REQUIRE_BROWSER=1 but " + missing)
	}
	msg := "!!! BROWSER TEST SKIPPED: " + missing + " (PAYDESK_REQUIRE_BROWSER=1, as in CI, makes this a failure.) !!!"
	// go test prints skip reasons only with -v; also say it once on stderr,
	// which go test shows when run without package arguments.
	skipNotice.Do(func() { fmt.Fprintln(os.Stderr, msg) })
	t.Skip(msg)
	return ""
}

// Tab is one browser tab. Ctx is its chromedp context, for chromedp calls the
// helpers do not cover (derive a timeout from it with context.WithTimeout).
type Tab struct {
	Ctx context.Context

	mu      sync.Mutex
	dialogs []string // "alert: x", "confirm: sure?", ...
	errors  []string // console.error calls and uncaught exceptions
}

// Tab opens a new tab in b (its own chromedp context, closed at t's cleanup).
// Each Run, Get, Text or Screenshot call on it times out after RunTimeout.
// The tab dismisses every JavaScript dialog and records it and every console
// error and uncaught exception: see Dialogs and ConsoleErrors.
func (b *Browser) Tab(t testing.TB) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tab := &Tab{Ctx: ctx}
	// Listen opens the tab, bound to ctx (no timeout), and calls the func on
	// the goroutine that reads the tab's events, so the events are recorded
	// before the action that caused them returns.
	if err := chromedp.Listen(ctx, tab.record); err != nil {
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	return tab
}

// record keeps the events Dialogs and ConsoleErrors report.
func (tab *Tab) record(ev any) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	switch ev := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		tab.dialogs = append(tab.dialogs, fmt.Sprintf("%s: %s", ev.Type, ev.Message))
		// A dialog blocks the page; answer it, but not from this goroutine
		// (it reads the replies).
		go chromedp.Call(tab.Ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				args = append(args, remoteText(a))
			}
			tab.errors = append(tab.errors, "console.error: "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		tab.errors = append(tab.errors, "exception: "+msg)
	}
}

// remoteText renders a console argument: a primitive's JSON value, otherwise
// its description (such as an Error's message and stack).
func remoteText(o *runtime.RemoteObject) string {
	var s string
	switch {
	case len(o.Value) == 0:
		return o.Description
	case json.Unmarshal(o.Value, &s) == nil:
		return s
	default:
		return string(o.Value)
	}
}

// Dialogs returns every JavaScript dialog (alert, confirm, prompt,
// beforeunload) opened in the tab so far, as "type: message". The tab
// dismissed them. A test that shows untrusted text asserts this is empty.
func (tab *Tab) Dialogs() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.dialogs...)
}

// ConsoleErrors returns every console.error call ("console.error: ...") and
// uncaught exception ("exception: ...") seen in the tab so far.
func (tab *Tab) ConsoleErrors() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.errors...)
}

// Run runs chromedp actions in order. When one fails it saves a screenshot
// (<TestName>-failure.png) and fails t with the error and the page's URL.
func (tab *Tab) Run(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	Get(t, tab, chromedp.Steps(actions...))
}

// Get runs one chromedp action that returns a value, such as
// chromedp.Title() or chromedp.Value(chromedp.CSS("#amount")), and returns
// the value; it fails t as Run does.
func Get[T any](t testing.TB, tab *Tab, action chromedp.Action[T]) T {
	t.Helper()
	return get(t, tab, "", action)
}

// get is Get with what names the action in the failure message.
func get[T any](t testing.TB, tab *Tab, what string, action chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Ctx, RunTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %v: %w", RunTimeout, err)
		}
		if what != "" {
			err = fmt.Errorf("%s: %w", what, err)
		}
		tab.fail(t, err)
	}
	return v
}

// fail reports a failed action with the page's URL and a screenshot.
func (tab *Tab) fail(t testing.TB, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Ctx, 10*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	shot, serr := tab.screenshot(ctx, t, "failure")
	if serr != nil {
		shot = "none (" + serr.Error() + ")"
	}
	t.Fatalf("browser: %v\n\tpage: %s\n\tscreenshot: %s", err, url, shot)
}

// Screenshot saves a full-page PNG of the current page to
// testoutput/browser/<TestName>-<name>.png under the module root, logs the
// path and returns it.
func (tab *Tab) Screenshot(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Ctx, RunTimeout)
	defer cancel()
	path, err := tab.screenshot(ctx, t, name)
	if err != nil {
		t.Fatalf("browsertest: screenshot %q: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func (tab *Tab) screenshot(ctx context.Context, t testing.TB, name string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "testoutput", "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, unsafeChars.ReplaceAllString(t.Name()+"-"+name, "_")+".png")
	return path, os.WriteFile(path, png, 0o644)
}

// moduleRoot walks up from the working directory (the test's package) to
// the folder that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("browsertest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Text returns the innerText of the first element matching the CSS selector,
// once it is visible.
func (tab *Tab) Text(t testing.TB, selector string) string {
	t.Helper()
	return get(t, tab, fmt.Sprintf("text of %q (waiting for it to be visible)", selector),
		chromedp.Text(chromedp.CSS(selector), chromedp.NodeVisible))
}
