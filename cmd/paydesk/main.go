// Command paydesk is a self-hosted finance back office for a Stripe account.
//
// Usage:
//
//	paydesk <command> [flags]
//
// Run `paydesk help` for the commands and `paydesk <command> --help` for
// each one's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, env *environment, args []string) error
}

// environment is what every command gets: configuration, output and logs.
type environment struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

var commands = []command{
	{"migrate", "apply database migrations", runMigrate},
	{"serve", "serve the web routes and the Stripe webhook receiver, and apply queued events", runServe},
	{"sync", "copy customers, invoices, charges and refunds from Stripe into the mirror", runSync},
	{"seed", "fill the mirror with made-up, consistent demo data (for demos and benchmarks)", runSeed},
	{"user", "manage staff accounts: add, set-role, disable, list", runUser},
	{"demo", "run a ready-to-use demo: private PostgreSQL, stripe-mock, made-up data, an admin (make run)", runDemo},
	{"verify", "compare the mirror with Stripe and report drift; --fix re-fetches what drifted", runVerify},
	{"version", "print the version", runVersion},
}

func main() {
	env := &environment{getenv: os.Getenv, stdout: os.Stdout, stderr: os.Stderr}
	// JSON or text by PAYDESK_LOG_FORMAT, at PAYDESK_LOG_LEVEL, secrets
	// redacted whoever logs them (logging.go).
	getenv := os.Getenv
	if len(os.Args) > 1 && os.Args[1] == "demo" && os.Getenv("PAYDESK_LOG_FORMAT") == "" {
		// The demo runs at a terminal: its lines are read by a person.
		getenv = func(name string) string {
			if name == "PAYDESK_LOG_FORMAT" {
				return "text"
			}
			return os.Getenv(name)
		}
	}
	log, err := newLogger(getenv, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "paydesk: configuration: %v\n", err)
		os.Exit(2)
	}
	env.log = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, env, os.Args[1:])
	stop()
	os.Exit(code)
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// usageError marks a mistake in the command line (exit code 2).
func usageError(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

// dispatch runs the command named by args[0] and returns the exit code.
// Every failure is one line on stderr, prefixed with the command.
func dispatch(ctx context.Context, env *environment, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		if err == nil || errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(env.stderr, "paydesk %s: %v\n", c.name, err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	fmt.Fprintf(env.stderr, "paydesk: unknown command %q (run paydesk help)\n", args[0])
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "paydesk: a self-hosted finance back office for a Stripe account")
	fmt.Fprintln(w, "\nUsage: paydesk <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun paydesk <command> --help for a command's flags. Configuration comes from the environment; see README.md.")
}

// newFlags makes a command's flag set with a usage text; parse errors are
// returned, not printed twice.
func newFlags(env *environment, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: paydesk %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping a bad flag to a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return usageError("%v (see --help)", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q (see --help)", fs.Arg(0))
	}
	return nil
}

// loadEnvConfig reads the configuration, turning a problem into a usage
// error that names the variable.
func loadEnvConfig(env *environment) (config, error) {
	cfg, err := loadConfig(env.getenv)
	if err != nil {
		return cfg, &exitError{2, fmt.Errorf("configuration: %w", err)}
	}
	return cfg, nil
}
