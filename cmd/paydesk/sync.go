package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"paydesk/store"
	"paydesk/stripeapi"
	"paydesk/stripeapi/backfill"
)

const syncUsage = `sync [--objects customers,invoices,charges,refunds] [--since YYYY-MM-DD] [--rate N] [--workers N] [--restart]
       paydesk sync --events

Copies objects from Stripe into the mirror, paging every list. An
interrupted run (Ctrl-C, kill, crash) resumes where it stopped when run
again with the same flags.

With --events it instead lists Stripe's events since the newest one stored
(Stripe keeps 30 days) and queues those missing for the event workers of
paydesk serve, so an outage longer than Stripe's webhook retries loses
nothing.`

func runSync(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "sync", syncUsage)
	objects := fs.String("objects", strings.Join(backfill.Objects, ","), "object types to copy, comma-separated")
	since := fs.String("since", "", "only objects created on or after this date (UTC, YYYY-MM-DD)")
	rate := fs.Float64("rate", -1, "Stripe requests per second (default 25 in test mode, 100 in live mode; 0 = unlimited)")
	workers := fs.Int("workers", 4, "created-windows read in parallel")
	restart := fs.Bool("restart", false, "abandon an interrupted run and start over")
	events := fs.Bool("events", false, "queue the events missed since the newest stored event, instead of copying objects")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts := backfill.Options{Workers: *workers, Restart: *restart, Log: env.log}
	var err error
	if opts.Objects, err = backfill.ParseObjects(*objects); err != nil {
		return usageError("--objects: %v", err)
	}
	if *since != "" {
		if opts.Since, err = time.Parse(time.DateOnly, *since); err != nil {
			return usageError("--since: want a date like 2024-01-31, got %q", *since)
		}
	}
	if *workers < 1 {
		return usageError("--workers: want at least 1")
	}
	cfg, err := loadEnvConfig(env)
	if err != nil {
		return err
	}
	api, st, err := connect(ctx, cfg, *rate)
	if err != nil {
		return err
	}
	defer st.Close()

	if *events {
		res, err := backfill.CatchUpEvents(ctx, st, api)
		if err != nil {
			return friendlyStripeError(err)
		}
		fmt.Fprintf(env.stdout, "events: %d listed, %d new queued for the workers (%d requests, %s)\n",
			res.Listed, res.Added, res.Requests, res.Duration.Round(time.Millisecond))
		return nil
	}

	opts.Progress = &backfill.Progress{}
	stopProgress := showProgress(env, opts.Progress, opts.Objects)
	sum, err := backfill.Run(ctx, st, api, opts)
	stopProgress()
	// A run that failed before storing anything has nothing to sum up: its
	// one line of error says it all.
	if err == nil || ctx.Err() != nil || sum.Requests > 0 && anyStored(sum) {
		printSummary(env.stdout, sum, opts.Objects, err == nil)
	}
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{130, errors.New("interrupted; run the same command again to resume")}
		}
		return friendlyStripeError(err)
	}
	return nil
}

// connect builds the Stripe client (rate: requests per second, negative for
// the mode's default) and opens the store, refusing a database whose
// migrations are not current.
func connect(ctx context.Context, cfg config, rate float64) (*stripeapi.Client, *store.Store, error) {
	if err := cfg.needStripe(); err != nil {
		return nil, nil, err
	}
	api, err := newStripeClient(cfg, rate)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if current, err := st.MigrationsCurrent(ctx); err != nil || !current {
		st.Close()
		if err == nil {
			err = errors.New("the database schema is not current: run paydesk migrate first")
		}
		return nil, nil, err
	}
	return api, st, nil
}

// newStripeClient builds the connector for the configured mode.
func newStripeClient(cfg config, rate float64) (*stripeapi.Client, error) {
	key, _ := cfg.stripeKey()
	if rate < 0 {
		rate = 25 // Stripe's test-mode limit
		if cfg.LiveMode {
			rate = 100 // Stripe's live-mode limit
		}
	}
	api, err := stripeapi.New(stripeapi.Config{
		SecretKey: string(key), LiveMode: cfg.LiveMode, APIBase: cfg.APIBase,
		// stripe-go's own log lines would repeat, less clearly, the error
		// and retry counts the command reports itself.
		RequestsPerSecond: rate, MaxNetworkRetries: 2, RateLimitRetries: 8,
	})
	if err != nil {
		return nil, fmt.Errorf("stripe client: %w", err)
	}
	return api, nil
}

// friendlyStripeError turns a connector error into its safe one-line
// message, naming the key variable on an authentication failure.
func friendlyStripeError(err error) error {
	var se *stripeapi.Error
	if errors.As(err, &se) {
		if se.RequestID != "" {
			return fmt.Errorf("%s (Stripe request %s)", se.Message, se.RequestID)
		}
		return errors.New(se.Message)
	}
	return err
}

// showProgress draws a progress bar on a terminal and logs a line every 10
// seconds otherwise. The returned func stops it.
func showProgress(env *environment, p *backfill.Progress, objects []string) func() {
	describe := func() string {
		parts := make([]string, 0, len(objects)+1)
		for _, name := range objects {
			parts = append(parts, fmt.Sprintf("%s %d", name, p.Objects(name)))
		}
		if p.Lines.Load() > 0 {
			parts = append(parts, fmt.Sprintf("lines %d", p.Lines.Load()))
		}
		return strings.Join(parts, " · ")
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	f, isFile := env.stderr.(*os.File)
	if isFile && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(f), progressbar.OptionSpinnerType(14),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("objects"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		go func() {
			defer close(stopped)
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					_ = bar.Finish()
					return
				case <-t.C:
					bar.Describe(describe())
					_ = bar.Set64(p.Total())
				}
			}
		}()
	} else {
		go func() {
			defer close(stopped)
			t := time.NewTicker(10 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					env.log.Info("sync progress", "stored", describe(), "pages", p.Pages.Load())
				}
			}
		}()
	}
	return func() { close(done); <-stopped }
}

func anyStored(sum backfill.Summary) bool {
	for _, n := range sum.Objects {
		if n > 0 {
			return true
		}
	}
	return false
}

func printSummary(w io.Writer, sum backfill.Summary, objects []string, finished bool) {
	state := "finished"
	if !finished {
		state = "stopped"
	}
	resumed := ""
	if sum.Resumed {
		resumed = ", resumed"
	}
	fmt.Fprintf(w, "sync %s in %s (run %d%s)\n", state, sum.Duration.Round(time.Millisecond), sum.RunID, resumed)
	for _, name := range objects {
		fmt.Fprintf(w, "  %-10s %9d\n", name, sum.Objects[name])
	}
	if sum.Lines > 0 {
		fmt.Fprintf(w, "  %-10s %9d\n", "lines", sum.Lines)
	}
	fmt.Fprintf(w, "  requests %d, retries %d (rate limited %d)\n", sum.Requests, sum.Retries, sum.RateLimited)
}
