package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"paydesk/store/storetest"
	"paydesk/stripeapi/stripefake"
)

const fakeKey = "sk_test_cmd_fake_key_0001"

type result struct {
	code           int
	stdout, stderr string
}

// paydesk runs the binary with only the given environment (plus PATH).
func paydesk(t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	cmd := processFor(env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func processFor(env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// oneLine asserts a failure printed exactly one line and a non-zero exit.
func oneLine(t *testing.T, r result, want string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("exit 0, want failure; stderr %q", r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Fatalf("stderr = %q, want one line containing %q", r.stderr, want)
	}
}

func TestSyncBadInput(t *testing.T) {
	dbURL := storetest.URL(t)
	data := stripefake.Generate(templates, stripefake.Dataset{Customers: 5, Seed: 9})
	srv := stripefake.NewServer(data, stripefake.Options{SecretKey: fakeKey})
	defer srv.Close()
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": fakeKey, "STRIPE_API_BASE": srv.URL}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}

	r := paydesk(t, env, "sync", "--objects", "customers,payouts")
	oneLine(t, r, `unknown object type "payouts"`)
	if r.code != 2 {
		t.Errorf("unknown object: exit %d, want 2", r.code)
	}

	r = paydesk(t, map[string]string{"DATABASE_URL": "postgres://paydesk:hunter2@127.0.0.1:1/paydesk?sslmode=disable",
		"STRIPE_TEST_SECRET_KEY": fakeKey, "STRIPE_API_BASE": srv.URL}, "sync")
	oneLine(t, r, "cannot connect to the database named by DATABASE_URL")
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("the database password was printed: %q", r.stderr)
	}

	bad := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": "sk_test_rejected_key_9999", "STRIPE_API_BASE": srv.URL}
	r = paydesk(t, bad, "sync")
	oneLine(t, r, "Stripe rejected the API key")
	if strings.Contains(r.stderr+r.stdout, "rejected_key_9999") {
		t.Errorf("the key was printed: %q", r.stderr)
	}

	r = paydesk(t, map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_BASE": srv.URL}, "sync")
	oneLine(t, r, "STRIPE_TEST_SECRET_KEY: required")

	r = paydesk(t, map[string]string{"DATABASE_URL": dbURL, "STRIPE_LIVE_MODE": "true", "STRIPE_TEST_SECRET_KEY": fakeKey}, "migrate")
	oneLine(t, r, "STRIPE_LIVE_SECRET_KEY: required when STRIPE_LIVE_MODE=true")

	r = paydesk(t, env, "sync", "--since", "last tuesday")
	oneLine(t, r, "--since: want a date")

	r = paydesk(t, env, "nonsense")
	oneLine(t, r, `unknown command "nonsense"`)
}

func TestSyncNeedsMigratedDatabase(t *testing.T) {
	ctx := context.Background()
	st, dbURL := storetest.NewWithURL(t)
	if _, err := st.DB().ExecContext(ctx, `DROP TABLE goose_db_version`); err != nil {
		t.Fatal(err)
	}
	r := paydesk(t, map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": fakeKey, "STRIPE_API_BASE": "http://127.0.0.1:1"}, "sync")
	oneLine(t, r, "run paydesk migrate first")
}

func TestHelpAndVersion(t *testing.T) {
	for _, c := range []string{"migrate", "sync", "version"} {
		r := paydesk(t, nil, c, "--help")
		if r.code != 0 || !strings.Contains(r.stderr, "Usage: paydesk "+c) {
			t.Errorf("%s --help: %+v", c, r)
		}
	}
	if r := paydesk(t, nil, "help"); r.code != 0 || !strings.Contains(r.stdout, "sync") {
		t.Errorf("help: %+v", r)
	}
	if r := paydesk(t, nil, "version"); r.code != 0 || !strings.Contains(r.stdout, "Stripe API 2023-10-16") {
		t.Errorf("version: %+v", r)
	}
}

var summaryLine = regexp.MustCompile(`(?m)^\s+(customers|invoices|charges|refunds)\s+(\d+)$`)

// TestSyncKilledAndRerun kills `paydesk sync` with SIGKILL midway, runs it
// again, and checks the mirror is complete and the rerun read only what
// the killed run had not stored.
func TestSyncKilledAndRerun(t *testing.T) {
	ctx := context.Background()
	data := stripefake.Generate(templates, stripefake.Dataset{Customers: 1500, Invoices: 3000, LongInvoices: 80, Charges: 6000, Refunds: 600, Seed: 10})
	var (
		mu     sync.Mutex
		victim *exec.Cmd
	)
	srv := stripefake.NewServer(data, stripefake.Options{SecretKey: fakeKey, OnRequest: func(n int64, _ *http.Request) {
		if n == 45 {
			mu.Lock()
			_ = victim.Process.Signal(syscall.SIGKILL)
			mu.Unlock()
		}
	}})
	defer srv.Close()
	st, dbURL := storetest.NewWithURL(t)
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": fakeKey, "STRIPE_API_BASE": srv.URL}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}

	mu.Lock()
	victim = processFor(env, "sync", "--rate", "0")
	var out bytes.Buffer
	victim.Stdout, victim.Stderr = &out, &out
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	mu.Unlock()
	err := victim.Wait()
	if ws, ok := victim.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("sync was not killed: %v\n%s", err, out.String())
	}

	var stored int64
	if err := st.DB().GetContext(ctx, &stored, `SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM invoices) + (SELECT count(*) FROM charges) + (SELECT count(*) FROM refunds)`); err != nil {
		t.Fatal(err)
	}
	if stored == 0 {
		t.Fatal("nothing stored before the kill")
	}

	start := time.Now()
	r := paydesk(t, env, "sync", "--rate", "0")
	if r.code != 0 || !strings.Contains(r.stdout, "resumed") {
		t.Fatalf("rerun: %+v", r)
	}
	t.Logf("rerun took %s:\n%s", time.Since(start), r.stdout)
	var reread int64
	for _, m := range summaryLine.FindAllStringSubmatch(r.stdout, -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		reread += n
	}
	c := data.Counts()
	all := int64(c["customers"] + c["invoices"] + c["charges"] + c["refunds"])
	if reread != all-stored {
		t.Fatalf("rerun read %d objects, want the %d the killed run had not stored", reread, all-stored)
	}
	for table, want := range map[string]int{"customers": c["customers"], "invoices": c["invoices"], "invoice_lines": c["invoice_lines"], "charges": c["charges"], "refunds": c["refunds"]} {
		var got int
		if err := st.DB().GetContext(ctx, &got, `SELECT count(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}
	var running int
	if err := st.DB().GetContext(ctx, &running, `SELECT count(*) FROM sync_runs WHERE status = 'running'`); err != nil || running != 0 {
		t.Errorf("runs still marked running: %d %v", running, err)
	}
}
