package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"
	"text/tabwriter"
	"unicode"

	"golang.org/x/term"

	"paydesk/store"
)

const userUsage = `user <subcommand> [flags]

Manages staff accounts (DATABASE_URL). Subcommands:

  add --email E --role R [--name N]   create an account
  set-role --email E --role R         change an account's role
  disable --email E                   stop an account from signing in
  enable --email E                    let a disabled account sign in again
  list                                list the accounts

Roles, lowest first: viewer, support, billing, admin.

add reads the password from the first line of stdin when stdin is not a
terminal (printf '%s\n' "$PASSWORD" | paydesk user add ...). Otherwise, or
when stdin is empty, it generates one and prints it once.

set-role and disable end the account's sessions. Every
change is written to the audit log with actor "cli".`

// cliActor is the audit log's actor for changes made from the command line.
const cliActor = "cli"

func runUser(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 {
		return usageError("want a subcommand: add, set-role, disable, enable or list (see --help)")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(env.stderr, "Usage: paydesk %s\n", userUsage)
		return flag.ErrHelp
	case "add":
		return userAdd(ctx, env, args[1:], os.Stdin)
	case "set-role":
		return userSetRole(ctx, env, args[1:])
	case "disable":
		return userSetDisabled(ctx, env, args[1:], true)
	case "enable":
		return userSetDisabled(ctx, env, args[1:], false)
	case "list":
		return userList(ctx, env, args[1:])
	}
	return usageError("unknown subcommand %q: want add, set-role, disable, enable or list (see --help)", args[0])
}

func userAdd(ctx context.Context, env *environment, args []string, stdin *os.File) error {
	fs := newFlags(env, "user add", `user add --email E --role R [--name N]

Creates a staff account. The password is the first line of stdin when stdin
is not a terminal; otherwise (or when stdin is empty) one is generated and
printed once.`)
	email := fs.String("email", "", "the account's email, its login (required)")
	roleName := fs.String("role", "", "viewer, support, billing or admin (required)")
	name := fs.String("name", "", "the person's name, as shown in the UI")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	addr, err := checkEmail(*email)
	if err != nil {
		return err
	}
	role, err := parseRoleFlag(*roleName)
	if err != nil {
		return err
	}
	password, err := passwordFromStdin(stdin)
	if err != nil {
		return fmt.Errorf("read the password from stdin: %w", err)
	}
	generated := password == ""
	if generated {
		password = store.GeneratePassword()
	}
	hash, err := store.HashPassword(password)
	switch {
	case errors.Is(err, store.ErrPasswordTooShort):
		return usageError("the password on stdin is too short: want at least 12 characters")
	case errors.Is(err, store.ErrPasswordTooLong):
		return usageError("the password on stdin is too long: want at most 1024 bytes")
	case err != nil:
		return err
	}

	st, err := openCurrentStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	var u store.User
	err = st.InTx(ctx, func(tx *store.Store) error {
		if u, err = tx.AddUser(ctx, addr, *name, role, hash); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, store.AuditEntry{
			Actor: cliActor, Action: "user.add", Target: userTarget(u.ID), Outcome: store.AuditOK,
			Params: map[string]any{"email": u.Email, "role": u.Role},
		})
	})
	if errors.Is(err, store.ErrEmailTaken) {
		return fmt.Errorf("a user with email %s exists", strings.ToLower(addr))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "added user %d %s (%s)\n", u.ID, u.Email, u.Role)
	if generated {
		fmt.Fprintf(env.stdout, "password: %s\n", password)
		fmt.Fprintln(env.stdout, "Give it to them now: only its hash is stored, and it will not be shown again.")
	}
	return nil
}

func userSetRole(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "user set-role", `user set-role --email E --role R

Changes an account's role. Its sessions end, so the new role applies from
the next sign-in.`)
	email := fs.String("email", "", "the account's email (required)")
	roleName := fs.String("role", "", "viewer, support, billing or admin (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*email) == "" {
		return usageError("--email is required (see --help)")
	}
	role, err := parseRoleFlag(*roleName)
	if err != nil {
		return err
	}
	st, err := openCurrentStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	var before, after store.User
	err = st.InTx(ctx, func(tx *store.Store) error {
		if before, err = userByEmail(ctx, tx, *email); err != nil {
			return err
		}
		if before.Role == role {
			after = before
			return nil
		}
		if after, err = tx.SetUserRole(ctx, before.ID, role); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, store.AuditEntry{
			Actor: cliActor, Action: "user.set_role", Target: userTarget(before.ID), Outcome: store.AuditOK,
			Params: map[string]any{"from": before.Role, "to": role},
		})
	})
	if err != nil {
		return err
	}
	if before.Role == role {
		fmt.Fprintf(env.stdout, "user %d %s is already %s; nothing changed\n", after.ID, after.Email, role)
		return nil
	}
	fmt.Fprintf(env.stdout, "user %d %s: role %s -> %s; their sessions have ended\n", after.ID, after.Email, before.Role, after.Role)
	return nil
}

func userSetDisabled(ctx context.Context, env *environment, args []string, disabled bool) error {
	verb, action, usage := "enable", "user.enable", `user enable --email E

Lets a disabled account sign in again.`
	if disabled {
		verb, action, usage = "disable", "user.disable", `user disable --email E

Stops an account from signing in and ends its sessions. The account and its
history stay; enable undoes it.`
	}
	fs := newFlags(env, "user "+verb, usage)
	email := fs.String("email", "", "the account's email (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*email) == "" {
		return usageError("--email is required (see --help)")
	}
	st, err := openCurrentStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	var u store.User
	changed := false
	err = st.InTx(ctx, func(tx *store.Store) error {
		if u, err = userByEmail(ctx, tx, *email); err != nil {
			return err
		}
		if u.Disabled == disabled {
			return nil
		}
		if u, err = tx.SetUserDisabled(ctx, u.ID, disabled); err != nil {
			return err
		}
		changed = true
		return tx.RecordAudit(ctx, store.AuditEntry{
			Actor: cliActor, Action: action, Target: userTarget(u.ID), Outcome: store.AuditOK,
		})
	})
	if err != nil {
		return err
	}
	switch {
	case !changed:
		fmt.Fprintf(env.stdout, "user %d %s is already %sd; nothing changed\n", u.ID, u.Email, verb)
	case disabled:
		fmt.Fprintf(env.stdout, "user %d %s disabled; their sessions have ended\n", u.ID, u.Email)
	default:
		fmt.Fprintf(env.stdout, "user %d %s enabled\n", u.ID, u.Email)
	}
	return nil
}

func userList(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "user list", "user list\n\nLists the staff accounts by email.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := openCurrentStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := st.Users(ctx)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(env.stdout, "no users yet; add one with paydesk user add")
		return nil
	}
	w := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEMAIL\tNAME\tROLE\tDISABLED\tLAST LOGIN")
	for _, u := range users {
		disabled, lastLogin := "no", "never"
		if u.Disabled {
			disabled = "yes"
		}
		if u.LastLoginAt != nil {
			lastLogin = u.LastLoginAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", u.ID, printable(u.Email), printable(u.Name), u.Role, disabled, lastLogin)
	}
	return w.Flush()
}

// openCurrentStore opens DATABASE_URL and refuses a database whose
// migrations are not current: without migration 3 there are no users.
func openCurrentStore(ctx context.Context, env *environment) (*store.Store, error) {
	cfg, err := loadEnvConfig(env)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if current, err := st.MigrationsCurrent(ctx); err != nil || !current {
		st.Close()
		if err == nil {
			err = errors.New("the database schema is not current: run paydesk migrate first")
		}
		return nil, err
	}
	return st, nil
}

// userByEmail looks an account up, turning ErrNotFound into a message.
func userByEmail(ctx context.Context, st *store.Store, email string) (store.User, error) {
	u, err := st.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return u, fmt.Errorf("no user with email %s", strings.ToLower(strings.TrimSpace(email)))
	}
	return u, err
}

func userTarget(id int64) string { return fmt.Sprintf("user:%d", id) }

// checkEmail accepts a bare address (no display name), since it is the
// login.
func checkEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", usageError("--email is required (see --help)")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email {
		return "", usageError("--email: want an address like ada@example.com, got %q", email)
	}
	return email, nil
}

func parseRoleFlag(name string) (store.Role, error) {
	if strings.TrimSpace(name) == "" {
		return "", usageError("--role is required: viewer, support, billing or admin (see --help)")
	}
	role, err := store.ParseRole(name)
	if err != nil {
		return "", usageError("--role: %v", err)
	}
	return role, nil
}

// passwordFromStdin returns the first line of stdin without its line
// ending, or "" when stdin is a terminal (a password typed there would
// echo) or empty. It reads at most 4 KiB: more than any password
// HashPassword accepts, so an over-long one is refused, not cut short.
func passwordFromStdin(stdin *os.File) (string, error) {
	if term.IsTerminal(int(stdin.Fd())) {
		return "", nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// printable replaces control characters, so a name cannot break the table's
// columns or send escape sequences to the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return '?'
		}
		return r
	}, s)
}
