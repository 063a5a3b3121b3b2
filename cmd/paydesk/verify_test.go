package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"paydesk/store/storetest"
	"paydesk/stripeapi/stripefake"
)

// TestVerifyCommand runs paydesk verify against the Stripe fake after a
// sync: a clean mirror exits 0, planted drift exits 1 and is listed, --fix
// repairs it and logs each fix, and the next run is clean again.
func TestVerifyCommand(t *testing.T) {
	ctx := context.Background()
	data := stripefake.Generate(templates, stripefake.Dataset{Customers: 60, Invoices: 120, LongInvoices: 3, Charges: 200, Refunds: 20, Seed: 31})
	srv := stripefake.NewServer(data, stripefake.Options{SecretKey: fakeKey})
	defer srv.Close()
	st, dbURL := storetest.NewWithURL(t)
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": fakeKey, "STRIPE_API_BASE": srv.URL}
	for _, args := range [][]string{{"migrate"}, {"sync", "--rate", "0"}} {
		if r := paydesk(t, env, args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}

	r := paydesk(t, env, "verify", "--all", "--rate", "0")
	if r.code != 0 || !strings.Contains(r.stdout, "No drift: the mirror agrees with Stripe.") {
		t.Fatalf("clean mirror: %+v", r)
	}
	// The summary row of charges: 200 in the mirror, 200 on Stripe, 200
	// compared, nothing drifted.
	if !regexp.MustCompile(`(?m)^\s*charges\s+200\s+200\s+200\s+0\s+0\s+0\s+0\s*$`).MatchString(r.stdout) {
		t.Errorf("no clean charges row in:\n%s", r.stdout)
	}
	r = paydesk(t, env, "verify", "--sample", "5", "--types", "customers,refunds", "--rate", "0")
	if r.code != 0 || !regexp.MustCompile(`(?m)^\s*customers\s+60\s+-\s+5\s+0`).MatchString(r.stdout) || strings.Contains(r.stdout, "charges") {
		t.Fatalf("sample: %+v", r)
	}

	var charges []string
	if err := st.DB().SelectContext(ctx, &charges, `SELECT id FROM charges ORDER BY id LIMIT 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `UPDATE charges SET amount = amount + 1 WHERE id = ANY($1)`, "{"+strings.Join(charges, ",")+"}"); err != nil {
		t.Fatal(err)
	}

	r = paydesk(t, env, "verify", "--all", "--rate", "0", "--limit", "2")
	if r.code != 1 {
		t.Fatalf("drift: exit %d, want 1: %+v", r.code, r)
	}
	for _, want := range []string{"3 differences", charges[0] + "  amount", charges[1], "... and 1 more (--json lists every one)", "Drift in 3 objects. Run paydesk verify --fix"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, charges[2]) {
		t.Errorf("--limit 2 listed the third difference:\n%s", r.stdout)
	}
	oneLine(t, r, "drift found: 3 differences not fixed")

	r = paydesk(t, env, "verify", "--all", "--rate", "0", "--json", "--types", "charges")
	var report struct {
		Mode   string `json:"mode"`
		Drifts []struct {
			Type, ID, Field, Mirror, Stripe string
			Fixed                           bool
		} `json:"drifts"`
		Types []struct {
			Type    string `json:"type"`
			Drifted int    `json:"drifted"`
		} `json:"types"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if r.code != 1 || report.Mode != "all" || len(report.Drifts) != 3 || report.Drifts[0].ID != charges[0] ||
		report.Drifts[0].Field != "amount" || len(report.Types) != 1 || report.Types[0].Drifted != 3 {
		t.Errorf("--json: exit %d, %+v", r.code, report)
	}

	r = paydesk(t, env, "verify", "--all", "--fix", "--rate", "0")
	if r.code != 0 || !strings.Contains(r.stdout, "Fixed 3 drifted objects") || len(regexp.MustCompile(`(?m)  amount  \d+ +\d+ +fixed$`).FindAllString(r.stdout, -1)) != 3 {
		t.Fatalf("--fix: %+v", r)
	}
	for _, id := range charges {
		if !strings.Contains(r.stderr, "verify: fixed") || !strings.Contains(r.stderr, id) {
			t.Errorf("the fix of %s was not logged: %s", id, r.stderr)
		}
	}
	if strings.Contains(r.stdout+r.stderr, fakeKey) {
		t.Error("the API key was printed")
	}
	if r = paydesk(t, env, "verify", "--all", "--rate", "0"); r.code != 0 {
		t.Fatalf("after --fix: %+v", r)
	}
}

func TestVerifyBadInput(t *testing.T) {
	dbURL := storetest.URL(t)
	data := stripefake.Generate(templates, stripefake.Dataset{Customers: 5, Seed: 32})
	srv := stripefake.NewServer(data, stripefake.Options{SecretKey: fakeKey})
	defer srv.Close()
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": fakeKey, "STRIPE_API_BASE": srv.URL}
	if r := paydesk(t, env, "migrate"); r.code != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--all", "--sample", "5"}, "--sample and --all: choose one"},
		{[]string{"--sample", "0"}, "--sample: want at least 1"},
		{[]string{"--types", "customers,payouts"}, `unknown object type "payouts"`},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		r := paydesk(t, env, append([]string{"verify"}, c.args...)...)
		oneLine(t, r, c.want)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2", c.args, r.code)
		}
	}

	bad := map[string]string{"DATABASE_URL": dbURL, "STRIPE_TEST_SECRET_KEY": "sk_test_rejected_key_9999", "STRIPE_API_BASE": srv.URL}
	r := paydesk(t, bad, "verify", "--all")
	oneLine(t, r, "Stripe rejected the API key")
	if r.code != 2 || strings.Contains(r.stderr+r.stdout, "rejected_key_9999") {
		t.Errorf("bad key: exit %d, output %q", r.code, r.stderr)
	}
	r = paydesk(t, map[string]string{"DATABASE_URL": "postgres://paydesk:hunter2@127.0.0.1:1/paydesk?sslmode=disable",
		"STRIPE_TEST_SECRET_KEY": fakeKey, "STRIPE_API_BASE": srv.URL}, "verify")
	oneLine(t, r, "cannot connect to the database")
	if r.code != 2 || strings.Contains(r.stderr, "hunter2") {
		t.Errorf("no database: exit %d, %q", r.code, r.stderr)
	}
	if r := paydesk(t, nil, "verify", "--help"); r.code != 0 || !strings.Contains(r.stderr, "Usage: paydesk verify") {
		t.Errorf("--help: %+v", r)
	}
}
