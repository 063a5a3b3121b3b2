package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/stripeapi/apply"
)

const serveUsage = `serve [--addr HOST:PORT] [--workers N] [--stripe-rate N]

Serves paydesk over HTTP, the Stripe webhook receiver included, and runs
event workers that apply queued events to the mirror. On SIGINT or SIGTERM
it stops taking requests, lets those in flight finish (up to 20 s), then
lets each worker finish the batch in hand.`

// shutdownGrace is how long requests in flight get to finish on a stop.
const shutdownGrace = 20 * time.Second

func runServe(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "serve", serveUsage)
	addr := fs.String("addr", "", "listen address, host:port or :port (default PAYDESK_ADDR, else :8080)")
	workers := fs.Int("workers", 2, "event workers in this process (0 = receive only)")
	rate := fs.Float64("stripe-rate", -1, "Stripe requests per second for re-fetches (default 25 in test mode, 100 in live mode; 0 = unlimited)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *workers < 0 {
		return usageError("--workers: want 0 or more")
	}
	if *addr != "" {
		if _, port, err := net.SplitHostPort(*addr); err != nil || port == "" {
			return usageError("--addr: want host:port or :port, got %q", *addr)
		}
	}
	cfg, err := loadEnvConfig(env)
	if err != nil {
		return err
	}
	if *addr != "" {
		cfg.Addr = *addr
	}
	return serve(ctx, env, cfg, serveOptions{workers: *workers, stripeRate: *rate})
}

// serveOptions are what serve takes besides the configuration.
type serveOptions struct {
	workers    int     // event workers in this process (0 = receive only)
	stripeRate float64 // Stripe requests per second; < 0 picks the mode's limit
	// demoNotice, when set, is shown on every page (paydesk demo).
	demoNotice string
	// ready, when set, is called once the server accepts requests, with
	// the address it listens on. It runs on serve's goroutine, so it must
	// return promptly and leave longer work to a goroutine of its own.
	ready func(addr net.Addr)
}

// serve is paydesk serve once its flags and configuration are read: the
// HTTP server, the webhook intake and the event workers, until ctx ends.
// paydesk demo runs it too.
func serve(ctx context.Context, env *environment, cfg config, o serveOptions) error {
	if err := cfg.needDatabase(); err != nil {
		return err
	}
	token, err := metricsToken(env.getenv)
	if err != nil {
		return err
	}
	conns, err := dbConns(env.getenv, o.workers)
	if err != nil {
		return err
	}
	// The workers re-fetch objects through the API.
	api, st, err := connect(ctx, cfg, o.stripeRate)
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetMaxConns(conns)
	// The live heap of a serve process is small (tens of MB) and churns
	// through webhook bodies; at Go's default GOGC=100 collection then
	// takes a large share of the CPU. 400 trades a few more MB for far
	// fewer collections. GOGC in the environment still wins.
	if env.getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if len(cfg.WebhookSecrets) == 0 {
		env.log.Warn("webhook route refuses every delivery until STRIPE_WEBHOOK_SECRET is set")
	}
	// The lists' totals and the overview sum daily rollups when their days
	// are the rollups' days: keep those in the display zone.
	ensureRollupZone(ctx, env, st, cfg.Location.String())

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// Live updates: this replica LISTENs to the change feed every
	// replica's workers NOTIFY, and pushes it to its open pages.
	changes, err := store.Listen(ctx, string(cfg.DatabaseURL), store.ListenOptions{
		OnError: func(err error) { env.log.Warn("live updates: change feed", "err", err) },
	})
	if err != nil {
		return fmt.Errorf("live updates: %w", err)
	}
	defer changes.Close()
	secrets := make([]string, len(cfg.WebhookSecrets))
	for i, s := range cfg.WebhookSecrets {
		secrets[i] = string(s)
	}
	// Deliveries arriving together are committed together (group
	// commit): one writer, up to 64 events per transaction. Once stored,
	// they go straight to this process's workers through the feed.
	feed := apply.NewFeed(4096)
	intake := st.NewIntake(store.IntakeOptions{Writers: 1, MaxBatch: 64, Handoff: feed.Offer})
	defer intake.Close()
	sessionSecret := []byte(cfg.SessionSecret)
	if len(sessionSecret) == 0 {
		// Sign-in still works, but sessions end when this process does
		// and are not shared with other replicas.
		env.log.Warn("SESSION_SECRET is not set: using a random one, so sessions end on restart and are not shared between replicas")
		sessionSecret = make([]byte, 32)
		_, _ = rand.Read(sessionSecret)
	}
	// This process's workers report to one monitor, which /readyz and
	// /metrics read (ops.go).
	monitor := &apply.Monitor{}
	readiness := storeReadiness{st: st, live: cfg.LiveMode}
	if o.workers > 0 {
		readiness.workers = monitor
	}
	srv := &http.Server{
		Handler: handlers.New(handlers.Config{
			WebhookSecrets: secrets, Intake: intake, Ready: readiness, Staff: st,
			Metrics:       handlers.MetricsConfig{Token: token, Database: st, Workers: monitor, Stripe: api},
			SessionSecret: sessionSecret, IdleTimeout: cfg.SessionIdle, AbsoluteTimeout: cfg.SessionMax,
			HTTPS: map[string]handlers.HTTPS{"auto": handlers.HTTPSAuto, "on": handlers.HTTPSOn, "off": handlers.HTTPSOff}[cfg.HTTPS],
			Live:  cfg.LiveMode, Location: cfg.Location, Mirror: st, Log: env.log, Changes: changes,
			DemoNotice: o.demoNotice,
			// Refunds and the other actions call Stripe through the
			// connector, each under its form's idempotency key.
			Refunds: api.Refunds, Invoices: api.Invoices, Customers: api.Customers,
			// Refunds above these amounts wait for a second person.
			RefundApproval: cfg.RefundApproval,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(env.log.Handler(), slog.LevelWarn),
	}

	// The workers outlive the signal: they stop only after the server has
	// drained, so an event acknowledged just before the stop is still
	// applied by this process or, once stored, by the next one.
	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	var wg sync.WaitGroup
	for i := range o.workers {
		log := env.log.With("worker", i+1)
		w := apply.NewWorker(st, api, apply.Options{Feed: feed, Log: log, Monitor: monitor})
		// Run returns only when workCtx ends: it retries failed batches
		// itself, with backoff.
		wg.Go(func() { _ = w.Run(workCtx) })
	}

	wg.Go(func() { compactRollups(workCtx, env, st) })

	// Open live-update streams end at once on a stop instead of holding
	// Shutdown for its whole grace period.
	srv.RegisterOnShutdown(srv.Handler.(*handlers.Server).EndLiveStreams)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	mode := "test"
	if cfg.LiveMode {
		mode = "live"
	}
	env.log.Info("paydesk serve listening", "addr", ln.Addr().String(), "workers", o.workers, "mode", mode)
	if o.ready != nil {
		o.ready(ln.Addr())
	}

	var serveErr error
	select {
	case <-ctx.Done():
		env.log.Info("paydesk serve stopping: finishing requests in flight")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		if err := srv.Shutdown(shutdownCtx); err != nil {
			env.log.Warn("requests still running at the shutdown deadline were cut off", "err", err)
			_ = srv.Close()
		}
		cancel()
	case err := <-served:
		serveErr = fmt.Errorf("serve: %w", err)
	}
	stopWork()
	wg.Wait()
	if serveErr != nil {
		return serveErr
	}
	env.log.Info("paydesk serve stopped")
	return nil
}

// ensureRollupZone moves the rollups to zone, rebuilding them when they
// were in another (writes to the mirror wait meanwhile). A failure is not
// fatal: the rollups stay exact in their zone, and figures whose days are
// not that zone's are aggregated from the rows.
func ensureRollupZone(ctx context.Context, env *environment, st *store.Store, zone string) {
	start := time.Now()
	rebuilt, err := st.EnsureRollupZone(ctx, zone)
	switch {
	case err != nil:
		env.log.Warn("rollups stay in their stored zone; totals and overview figures in PAYDESK_TIMEZONE days are aggregated from the rows", "zone", zone, "err", err)
	case rebuilt:
		env.log.Info("rebuilt the rollups in the display zone", "zone", zone, "took", time.Since(start).Round(time.Millisecond))
	}
}

// rollupCompactEvery is how often serve merges the rollups' delta rows.
const rollupCompactEvery = 30 * time.Second

// compactRollups merges the rollups' delta rows every rollupCompactEvery
// until ctx ends. Replicas take turns: CompactRollups returns at once when
// another holds its lock.
func compactRollups(ctx context.Context, env *environment, st *store.Store) {
	tick := time.NewTicker(rollupCompactEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := st.CompactRollups(ctx); err != nil && ctx.Err() == nil {
			env.log.Warn("compacting the rollups failed; will retry", "err", err)
		}
	}
}
