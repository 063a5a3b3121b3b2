package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"paydesk/store"
	"paydesk/store/storetest"
)

// paydeskStdin is paydesk (sync_test.go) with stdin fed from a pipe, as
// from `printf ... | paydesk ...`.
func paydeskStdin(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	cmd := processFor(env, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

var generatedLine = regexp.MustCompile(`(?m)^password: ([2-9a-zA-Z]{20})$`)

func TestUserCommand(t *testing.T) {
	ctx := context.Background()
	st, dbURL := storetest.NewWithURL(t)
	env := map[string]string{"DATABASE_URL": dbURL}
	const password = "typed on stdin, never shown"
	var outputs []result // everything printed, checked for secrets at the end
	run := func(stdin string, args ...string) result {
		t.Helper()
		r := paydeskStdin(t, env, stdin, args...)
		outputs = append(outputs, r)
		return r
	}

	// A password on stdin (first line; the rest is ignored).
	r := run(password+"\nsecond line\n", "user", "add", "--email", "Ada@Example.com", "--role", "billing", "--name", "Ada Lovelace")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "added user") || strings.Contains(r.stdout, "password") {
		t.Fatalf("add with a stdin password: %+v", r)
	}
	ada, err := st.UserByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if ada.Email != "ada@example.com" || ada.Name != "Ada Lovelace" || ada.Role != store.RoleBilling ||
		!store.CheckPassword(ada.PasswordHash, password) {
		t.Fatalf("stored %+v; the stdin password must match its hash", ada)
	}

	// No stdin (empty, as from /dev/null): a generated password, printed once.
	r = run("", "user", "add", "--email", "bob@example.com", "--role", "viewer")
	m := generatedLine.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || !strings.Contains(r.stdout, "will not be shown again") {
		t.Fatalf("add without a password: %+v", r)
	}
	generated := m[1]
	bob, err := st.UserByEmail(ctx, "bob@example.com")
	if err != nil || !store.CheckPassword(bob.PasswordHash, generated) || bob.Name != "" {
		t.Fatalf("stored %+v (%v); the printed password must match its hash", bob, err)
	}

	// Refusals: one line, exit 1 for a duplicate, 2 for a bad command line.
	r = run(password+"\n", "user", "add", "--email", "ADA@example.com", "--role", "admin")
	oneLine(t, r, "a user with email ada@example.com exists")
	if r.code != 1 {
		t.Errorf("duplicate email: exit %d, want 1", r.code)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "add", "--email", "carol@example.com", "--role", "owner"}, "viewer, support, billing, admin"},
		{[]string{"user", "add", "--email", "carol@example.com"}, "--role is required"},
		{[]string{"user", "add", "--role", "viewer"}, "--email is required"},
		{[]string{"user", "add", "--email", "Carol <carol@example.com>", "--role", "viewer"}, "--email: want an address"},
		{[]string{"user", "add", "--email", "carol@example.com", "--role", "viewer", "extra"}, `unexpected argument "extra"`},
		{[]string{"user", "set-role", "--email", "ada@example.com", "--role", "root"}, "unknown role"},
		{[]string{"user", "disable"}, "--email is required"},
		{[]string{"user", "promote"}, `unknown subcommand "promote"`},
		{[]string{"user"}, "want a subcommand"},
	} {
		r := run("", c.args...)
		oneLine(t, r, c.want)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2", c.args, r.code)
		}
	}
	r = run("short\n", "user", "add", "--email", "carol@example.com", "--role", "viewer")
	oneLine(t, r, "at least 12 characters")
	if _, err := st.UserByEmail(ctx, "carol@example.com"); err == nil {
		t.Fatal("a refused add stored the user")
	}
	r = run("", "user", "disable", "--email", "nobody@example.com")
	oneLine(t, r, "no user with email nobody@example.com")
	if r.code != 1 {
		t.Errorf("unknown email: exit %d, want 1", r.code)
	}

	// Changes end sessions and are audited.
	token, err := st.CreateSession(ctx, ada.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if r = run("", "user", "set-role", "--email", "ADA@example.com", "--role", "admin"); r.code != 0 || !strings.Contains(r.stdout, "billing -> admin") {
		t.Fatalf("set-role: %+v", r)
	}
	if _, _, err := st.SessionUser(ctx, token, time.Hour, time.Hour); err == nil {
		t.Fatal("set-role left the session live")
	}
	if r = run("", "user", "set-role", "--email", "ada@example.com", "--role", "admin"); r.code != 0 || !strings.Contains(r.stdout, "already admin") {
		t.Fatalf("set-role to the same role: %+v", r)
	}
	if r = run("", "user", "disable", "--email", "bob@example.com"); r.code != 0 || !strings.Contains(r.stdout, "disabled") {
		t.Fatalf("disable: %+v", r)
	}
	if u, _ := st.User(ctx, bob.ID); !u.Disabled {
		t.Fatal("disable left the user enabled")
	}
	if r = run("", "user", "disable", "--email", "bob@example.com"); r.code != 0 || !strings.Contains(r.stdout, "already disabled") {
		t.Fatalf("disable twice: %+v", r)
	}
	if r = run("", "user", "enable", "--email", "bob@example.com"); r.code != 0 || !strings.Contains(r.stdout, "enabled") {
		t.Fatalf("enable: %+v", r)
	}
	if u, _ := st.User(ctx, bob.ID); u.Disabled {
		t.Fatal("enable left the user disabled")
	}
	if err := st.RecordLogin(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}

	r = run("", "user", "list")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if r.code != 0 || len(lines) != 3 {
		t.Fatalf("list: %+v", r)
	}
	want := [][]string{
		{"ID", "EMAIL", "NAME", "ROLE", "DISABLED", "LAST", "LOGIN"},
		{"ada@example.com", "Ada", "Lovelace", "admin", "no", "UTC"},
		{"bob@example.com", "viewer", "no", "never"},
	}
	for i, words := range want {
		for _, w := range words {
			if !strings.Contains(lines[i], w) {
				t.Fatalf("list line %d %q lacks %q:\n%s", i, lines[i], w, r.stdout)
			}
		}
	}
	if col := strings.Index(lines[0], "ROLE"); strings.Index(lines[1], "admin") != col || strings.Index(lines[2], "viewer") != col {
		t.Fatalf("list columns not aligned:\n%s", r.stdout)
	}

	// One audit row per change, none for refusals or no-ops, newest first.
	rows, err := st.AuditEntries(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows {
		if row.Actor != "cli" || row.ActorID != nil || row.Outcome != store.AuditOK || row.Target == nil {
			t.Fatalf("audit row %+v", row)
		}
		got = append(got, row.Action+" "+*row.Target+" "+string(row.Params))
	}
	wantAudit := []string{
		"user.enable user:2 {}",
		"user.disable user:2 {}",
		`user.set_role user:1 {"to": "admin", "from": "billing"}`,
		`user.add user:2 {"role": "viewer", "email": "bob@example.com"}`,
		`user.add user:1 {"role": "billing", "email": "ada@example.com"}`,
	}
	if strings.Join(got, "\n") != strings.Join(wantAudit, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantAudit, "\n"))
	}
	for _, row := range rows {
		var params map[string]any
		if err := json.Unmarshal(row.Params, &params); err != nil {
			t.Fatal(err)
		}
	}

	// Secrets: the stdin password never appears; the generated one only on
	// its own line; no hash ever.
	for _, r := range outputs {
		all := r.stdout + r.stderr
		if strings.Contains(all, password) || strings.Contains(all, "$argon2id$") {
			t.Fatalf("a password or hash in the output: %+v", r)
		}
		if n := strings.Count(all, generated); n > 0 && (n != 1 || !generatedLine.MatchString(r.stdout)) {
			t.Fatalf("the generated password printed outside its line: %+v", r)
		}
	}
}

func TestUserCommandHelp(t *testing.T) {
	for _, args := range [][]string{{"user", "--help"}, {"user", "add", "--help"}, {"user", "list", "-h"}} {
		r := paydesk(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stderr, "Usage: paydesk user") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if r := paydesk(t, nil, "help"); !strings.Contains(r.stdout, "user") {
		t.Errorf("help does not list user: %+v", r)
	}
	r := paydesk(t, nil, "user", "list")
	oneLine(t, r, "DATABASE_URL")
	if r.code != 2 {
		t.Errorf("without DATABASE_URL: exit %d, want 2", r.code)
	}
}
