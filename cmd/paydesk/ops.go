package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"paydesk/handlers"
	"paydesk/store"
	"paydesk/stripeapi/apply"
)

// storeReadiness answers /readyz from the store and the workers: the
// database answers, every migration this binary embeds is applied, and,
// when this process runs event workers, each is running and finished a
// round recently or has nothing waiting (apply.Monitor.Check).
type storeReadiness struct {
	st      *store.Store
	workers *apply.Monitor // nil when this process runs no workers
	live    bool           // the mode whose queue the workers drain
}

// Ready is nil when every check passes; a pending migration is
// handlers.ErrMigrationsPending.
func (r storeReadiness) Ready(ctx context.Context) error {
	for _, c := range r.Checks(ctx) {
		switch {
		case c.Problem == "":
		case c.Name == "migrations" && c.Err == nil:
			return handlers.ErrMigrationsPending
		default:
			return fmt.Errorf("%s: %s: %w", c.Name, c.Problem, c.Err)
		}
	}
	return nil
}

// Checks runs the checks in order; those that need the database are
// reported unchecked when it does not answer.
func (r storeReadiness) Checks(ctx context.Context) []handlers.Check {
	checks := []handlers.Check{{Name: "database"}, {Name: "migrations"}}
	if r.workers != nil {
		checks = append(checks, handlers.Check{Name: "workers"})
	}
	if err := r.st.DB().PingContext(ctx); err != nil {
		checks[0].Problem, checks[0].Err = "database unavailable", err
		for i := 1; i < len(checks); i++ {
			checks[i].Problem = "not checked: the database is unavailable"
		}
		return checks
	}
	switch current, err := r.st.MigrationsCurrent(ctx); {
	case err != nil:
		checks[1].Problem, checks[1].Err = "cannot read the migration status", err
	case !current:
		checks[1].Problem = "database migrations pending: run paydesk migrate"
	}
	if r.workers != nil {
		// Unknown counts as waiting: a stuck worker is then still found.
		lag, err := r.st.MirrorLag(ctx, r.live)
		waiting := err != nil || lag.Queued > 0
		if err := r.workers.Check(time.Now(), waiting); err != nil {
			// Monitor.Check's text names the worker and nothing secret.
			checks[2].Problem, checks[2].Err = err.Error(), err
		}
	}
	return checks
}

// metricsToken reads PAYDESK_METRICS_TOKEN (or the file named by
// PAYDESK_METRICS_TOKEN_FILE): the bearer token a Prometheus scraper sends
// to read /metrics without a session. Unset, only admins' sessions can.
func metricsToken(getenv func(string) string) (string, error) {
	token, err := readSecret(getenv, "PAYDESK_METRICS_TOKEN")
	if err != nil {
		return "", &exitError{2, fmt.Errorf("configuration: %w", err)}
	}
	if token != "" && len(token) < 16 {
		return "", &exitError{2, fmt.Errorf("configuration: %w", &configError{"PAYDESK_METRICS_TOKEN",
			"want at least 16 characters of random text (openssl rand -hex 32)"})}
	}
	return token, nil
}

// dbConns is the most database connections a serve process opens:
// PAYDESK_DB_CONNS, else twice the processors Go runs on plus one, and at
// least the workers' plus three (the webhook intake's writer and a page's
// two statements). PostgreSQL does the most work with about as many busy
// connections as it has cores: with a pool of 20, eight people searching
// on two cores kept up to 20 backends running side by side, each slowed by
// the others, and a search's p95 was 37-52 ms; with 5 they wait their turn
// in the pool instead and the same p95 was 24-39 ms (make bench-pages).
func dbConns(getenv func(string) string, workers int) (int, error) {
	if v := getenv("PAYDESK_DB_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, &exitError{2, fmt.Errorf("configuration: %w", &configError{"PAYDESK_DB_CONNS",
				"want a whole number of connections from 1 to 1000"})}
		}
		return n, nil
	}
	return max(2*runtime.GOMAXPROCS(0)+1, workers+3), nil
}
