package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paydesk/store"
	"paydesk/store/storetest"
	"paydesk/stripeapi/stripefake"
)

// demoRun is a running `paydesk demo`.
type demoRun struct {
	cmd      *exec.Cmd
	base     string
	password string
	mu       sync.Mutex
	stdout   bytes.Buffer
	stderr   bytes.Buffer
	done     chan struct{} // closed when stdout has ended
}

func (d *demoRun) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stdout.String() + "\n--- stderr ---\n" + d.stderr.String()
}

var demoPasswordLine = regexp.MustCompile(`^  Password  ([2-9a-zA-Z]{20})$`)

// startDemo runs paydesk demo on dataDir and a free port, and waits until
// it prints the sign-in.
func startDemo(t *testing.T, dataDir string) *demoRun {
	t.Helper()
	port := freePort(t)
	d := &demoRun{cmd: processFor(nil, "demo", "--data", dataDir, "--addr", "127.0.0.1:"+port),
		base: "http://127.0.0.1:" + port, done: make(chan struct{})}
	d.start(t)
	return d
}

// start starts the process and waits until it prints the sign-in.
func (d *demoRun) start(t *testing.T) {
	t.Helper()
	d.cmd.Stderr = &lockedWriter{mu: &d.mu, w: &d.stderr}
	pipe, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-d.done:
			case <-time.After(30 * time.Second):
				_ = d.cmd.Process.Kill()
			}
			_ = d.cmd.Wait()
		}
	})
	// The sign-in counts once the whole ready message is in: tests read
	// the lines after the password too.
	password := make(chan string, 1)
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(pipe)
		var pw string
		for sc.Scan() {
			d.mu.Lock()
			d.stdout.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if m := demoPasswordLine.FindStringSubmatch(sc.Text()); m != nil {
				pw = m[1]
			}
			if pw != "" && sc.Text() == "Press Ctrl-C to stop." {
				select {
				case password <- pw:
				default: // only the first ready message is waited for
				}
				pw = ""
			}
		}
	}()
	select {
	case d.password = <-password:
	case <-d.done:
		_ = d.cmd.Wait()
		t.Fatalf("demo ended before printing the sign-in:\n%s", d.output())
	case <-time.After(90 * time.Second):
		t.Fatalf("demo printed no sign-in within 90 s:\n%s", d.output())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// stop sends SIGINT (Ctrl-C) and waits for a clean exit.
func (d *demoRun) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { <-d.done; exited <- d.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGINT: %v\n%s", err, d.output())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("still running 40 s after SIGINT:\n%s", d.output())
	}
}

// children lists the processes whose parent is pid, by name.
func children(t *testing.T, pid int) map[int]string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc: cannot check the demo's child processes")
	}
	out := map[int]string{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(stat)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out[child] = s[strings.IndexByte(s, '(')+1 : end]
		}
	}
	return out
}

// alive reports whether pid is a running process (not a zombie).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// postmaster reads the running cluster's pid and port from its lock file.
func postmaster(t *testing.T, pgDir string) (pid int, port string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pgDir, "postmaster.pid"))
	if err != nil {
		t.Fatalf("the cluster is not running: %v", err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		t.Fatalf("postmaster.pid: %q", b)
	}
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		t.Fatalf("postmaster.pid: %q", b)
	}
	return pid, strings.TrimSpace(lines[3])
}

// signIn signs in over HTTP as a browser's form would, and returns the
// client holding the session cookie.
func signIn(t *testing.T, base, email, password string) (*http.Client, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") != "/" {
		t.Errorf("sign-in sent to %q, want /", resp.Header.Get("Location"))
	}
	return client, resp.StatusCode
}

func getPage(t *testing.T, client *http.Client, u string) *goquery.Document {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// mirrorCounts are the demo database's rows, to compare two runs.
type mirrorCounts struct {
	Customers, Invoices, Charges, Refunds, Events int64
	ChargeSum                                     int64
}

func countMirror(t *testing.T, port string) mirrorCounts {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "postgres://postgres@127.0.0.1:"+port+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var c mirrorCounts
	if err := st.DB().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM invoices),
		(SELECT count(*) FROM charges), (SELECT count(*) FROM refunds), (SELECT count(*) FROM events),
		(SELECT coalesce(sum(amount), 0) FROM charges)`).Scan(
		&c.Customers, &c.Invoices, &c.Charges, &c.Refunds, &c.Events, &c.ChargeSum); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkDashboard signs in with the printed password and checks the
// overview and the charges list show the loaded data under the banner.
func checkDashboard(t *testing.T, d *demoRun) {
	t.Helper()
	client, status := signIn(t, d.base, demoAdminEmail, d.password)
	if status != http.StatusSeeOther {
		t.Fatalf("sign-in with the printed password: %d\n%s", status, d.output())
	}
	home := getPage(t, client, d.base+"/")
	if got := home.Find(`[data-testid="user-email"]`).Text(); got != demoAdminEmail {
		t.Errorf("signed in as %q, want %s", got, demoAdminEmail)
	}
	if got := strings.TrimSpace(home.Find(`[data-testid="demo-banner"]`).Text()); got != demoMockNotice {
		t.Errorf("demo banner = %q, want %q", got, demoMockNotice)
	}
	// The last 30 days of 13 months of charges: some USD, never zero.
	gross := strings.TrimSpace(home.Find(`[data-testid="summary-usd"] [data-testid="gross"]`).Text())
	if gross == "" || gross == "$0.00" || !strings.HasPrefix(gross, "$") {
		t.Errorf("overview's USD gross = %q, want a non-zero figure", gross)
	}
	if n := home.Find(`[data-testid="activity-row"]`).Length(); n == 0 {
		t.Error("overview shows no recent activity")
	}
	charges := getPage(t, client, d.base+"/charges")
	if n := charges.Find(`[data-testid="list-row"]`).Length(); n < 20 {
		t.Errorf("/charges shows %d rows, want a full page", n)
	}
	if charges.Find(`[data-testid="demo-banner"]`).Length() != 1 {
		t.Error("/charges has no demo banner")
	}
}

// TestDemo runs paydesk demo twice on one data folder: the first run
// starts a cluster and stripe-mock, loads the data through the webhook
// route and prints a working sign-in; Ctrl-C stops everything it started;
// the second run reuses the cluster and data as they were and prints a new
// password, which works where the old one no longer does.
func TestDemo(t *testing.T) {
	// Not t.TempDir: its parent is private to root, and the cluster runs as
	// postgres when the test runs as root.
	dir, err := os.MkdirTemp("", "paydesk-demo-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "demo")
	pgDir := filepath.Join(dataDir, "postgres")

	first := startDemo(t, dataDir)
	out := first.output()
	for _, want := range []string{"Creating a PostgreSQL cluster", "Loading 500 customers", "Email     " + demoAdminEmail,
		"stripe-mock (a test double; nothing reaches Stripe)"} {
		if !strings.Contains(out, want) {
			t.Errorf("first run's output lacks %q:\n%s", want, out)
		}
	}
	checkDashboard(t, first)
	pgPID, pgPort := postmaster(t, pgDir)
	before := countMirror(t, pgPort)
	if before.Customers != 500 || before.Charges < 3900 || before.Invoices < 1400 || before.Refunds < 350 {
		t.Errorf("mirror after the load: %+v", before)
	}
	var mocks []int
	for pid, name := range children(t, first.cmd.Process.Pid) {
		if strings.HasPrefix(name, "stripe-mock") {
			mocks = append(mocks, pid)
		}
	}
	if len(mocks) != 1 {
		t.Errorf("the demo runs %d stripe-mock processes, want 1", len(mocks))
	}
	for _, secretish := range []string{"whsec_", "sk_test_", "postgres://"} {
		if strings.Contains(out, secretish) {
			t.Errorf("the output holds %q:\n%s", secretish, out)
		}
	}

	first.stop(t)
	if _, err := os.Stat(filepath.Join(pgDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's postmaster.pid is still there after the demo stopped (%v)", err)
	}
	if alive(pgPID) {
		t.Errorf("PostgreSQL (pid %d) still runs after the demo stopped", pgPID)
	}
	for _, pid := range mocks {
		if alive(pid) {
			t.Errorf("stripe-mock (pid %d) still runs after the demo stopped", pid)
		}
	}
	if strings.Contains(first.output(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", first.output())
	}

	second := startDemo(t, dataDir)
	out = second.output()
	if !strings.Contains(out, "Starting the PostgreSQL cluster") || !strings.Contains(out, "The demo data is already loaded") ||
		strings.Contains(out, "Loading ") || strings.Contains(out, "Creating a PostgreSQL cluster") {
		t.Errorf("second run did not reuse the cluster and its data:\n%s", out)
	}
	if second.password == first.password {
		t.Error("the second run printed the first run's password")
	}
	checkDashboard(t, second)
	if _, status := signIn(t, second.base, demoAdminEmail, first.password); status != http.StatusUnauthorized {
		t.Errorf("the first run's password still signs in: %d", status)
	}
	_, pgPort = postmaster(t, pgDir)
	if after := countMirror(t, pgPort); after != before {
		t.Errorf("second run changed the mirror: before %+v, after %+v", before, after)
	}
	second.stop(t)
	if _, err := os.Stat(filepath.Join(pgDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster still runs after the second run stopped (%v)", err)
	}
}

// TestDemoWithDatabaseAndKey: with DATABASE_URL and a Stripe key set, the
// demo starts neither a cluster nor stripe-mock, copies the account with
// paydesk sync instead of loading made-up data, and says where Stripe
// calls go.
func TestDemoWithDatabaseAndKey(t *testing.T) {
	st, dbURL := storetest.NewWithURL(t)
	data := stripefake.Generate(templates, stripefake.Dataset{Customers: 30, Invoices: 20, Charges: 40, Refunds: 5, Seed: 21})
	srv := stripefake.NewServer(data, stripefake.Options{SecretKey: fakeKey})
	defer srv.Close()
	dataDir := t.TempDir()
	port := freePort(t)
	d := &demoRun{cmd: processFor(map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": fakeKey,
		"STRIPE_API_BASE": srv.URL, "PAYDESK_ADDR": "127.0.0.1:" + port}, "demo", "--data", dataDir),
		base: "http://127.0.0.1:" + port, done: make(chan struct{})}
	d.start(t)
	out := d.output()
	for _, want := range []string{"Using the database named by DATABASE_URL", "Using Stripe with the key you set",
		"Copying the Stripe account into the mirror", "Stripe    Stripe, with the key you set", "Data      the database named by DATABASE_URL"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Loading ") || strings.Contains(out, "Starting stripe-mock") {
		t.Errorf("made-up data or stripe-mock with a key set:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postgres")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cluster was made with DATABASE_URL set (%v)", err)
	}
	for pid, name := range children(t, d.cmd.Process.Pid) {
		t.Errorf("with a key set the demo runs %s (pid %d)", name, pid)
	}
	var customers int
	if err := st.DB().Get(&customers, `SELECT count(*) FROM customers`); err != nil {
		t.Fatal(err)
	}
	if customers != 30 {
		t.Errorf("%d customers synced, want 30", customers)
	}
	client, status := signIn(t, d.base, demoAdminEmail, d.password)
	if status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d\n%s", status, d.output())
	}
	home := getPage(t, client, d.base+"/")
	if got := home.Find(`[data-testid="demo-banner"]`).Text(); !strings.Contains(got, "the Stripe account whose key you set") {
		t.Errorf("demo banner = %q", got)
	}
	d.stop(t)
	for _, secretish := range []string{fakeKey, "whsec_", dbURL} {
		if strings.Contains(d.output(), secretish) {
			t.Errorf("the output holds %q:\n%s", secretish, d.output())
		}
	}
}

func TestDemoRefuses(t *testing.T) {
	if r := paydesk(t, nil, "demo", "--help"); r.code != 0 || !strings.Contains(r.stderr, "Usage: paydesk demo") {
		t.Errorf("demo --help: %+v", r)
	}
	if r := paydesk(t, nil, "help"); !strings.Contains(r.stdout, "demo") {
		t.Errorf("help does not list demo: %+v", r)
	}
	oneLine(t, paydesk(t, nil, "demo", "--addr", "nonsense"), "--addr: want host:port")
	r := paydesk(t, map[string]string{"STRIPE_TEST_SECRET_KEY": "pk_test_123"}, "demo", "--data", t.TempDir())
	oneLine(t, r, "STRIPE_TEST_SECRET_KEY")
	if r.code != 2 {
		t.Errorf("with a bad key: exit %d, want 2", r.code)
	}
}
