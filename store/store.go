// Package store is paydesk's PostgreSQL layer: the mirror of Stripe objects,
// the backfill state, and (in later migrations) users, audit and the event
// queue. It imports neither handlers nor stripeapi.
//
// Ordering. Every mirrored row has a version: the Unix second at which its
// stored state is known to be current (an event's created time, or the
// second a fetch from the API started). An upsert applies an incoming state
// only when its version is not older than the stored one, and the database
// decides that inside the single INSERT ... ON CONFLICT statement, so
// concurrent writers cannot interleave a read and a write.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver
	"github.com/pressly/goose/v3"

	"paydesk/migrations"
)

// ErrNotFound is returned when a requested row does not exist.
var ErrNotFound = errors.New("store: not found")

// Store wraps the database. A Store made by InTx runs every method inside
// that transaction.
type Store struct {
	db    *sqlx.DB
	q     sqlx.ExtContext
	tx    *sqlx.Tx
	stmts *stmtCache
	terms *termFlight
}

// Open connects to the PostgreSQL database at url and checks that it
// answers.
func Open(ctx context.Context, url string) (*Store, error) {
	db, err := sqlx.Open("postgres", withSessionSettings(url))
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return &Store{db: db, q: db, stmts: &stmtCache{}, terms: &termFlight{}}, nil
}

// withSessionSettings adds the settings every paydesk connection runs
// with, as startup parameters in either form of connection string. A
// setting the connection string already has is left as it is.
//
// plan_cache_mode=force_custom_plan: the hot statements are prepared (see
// prepared.go), and PostgreSQL's generic plans for their unnest(...)
// batches proved several times slower than a plan made for the actual
// arrays (bench-upsert, invoices: 2,300 -> 6,100 objects/s). Planning
// them each time is cheap; parsing is still saved.
//
// jit=off: paydesk's queries are short. The few whose estimated cost
// crosses jit_above_cost (a list search over a million charges, a totals
// aggregate) spent 20-500 ms compiling code that then ran for less than
// that (bench-pages).
func withSessionSettings(dsn string) string {
	settings := [][2]string{{"plan_cache_mode", "force_custom_plan"}, {"jit", "off"}}
	if u, err := neturl.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for _, kv := range settings {
			if q.Get(kv[0]) == "" {
				q.Set(kv[0], kv[1])
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	out := strings.TrimSpace(dsn)
	for _, kv := range settings {
		if !strings.Contains(dsn, kv[0]+"=") {
			out += " " + kv[0] + "=" + kv[1]
		}
	}
	return out
}

// SetMaxConns caps the pool at n connections, idle ones included.
func (s *Store) SetMaxConns(n int) {
	s.db.SetMaxOpenConns(n)
	s.db.SetMaxIdleConns(n)
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// DB returns the underlying pool.
func (s *Store) DB() *sqlx.DB { return s.db }

// InTx runs fn in one transaction: committed when fn returns nil, rolled
// back otherwise. Inside a transaction already, fn joins it.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(&Store{db: s.db, q: tx, tx: tx, stmts: s.stmts, terms: s.terms}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func gooseProvider(db *sql.DB) (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration and returns the versions applied.
func (s *Store) Migrate(ctx context.Context) ([]int64, error) {
	p, err := gooseProvider(s.db.DB)
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	if len(applied) > 0 {
		if err := s.vacuumRewritten(ctx); err != nil {
			return applied, err
		}
	}
	return applied, nil
}

// vacuumRewritten vacuums the tables a migration rewrote (00016 added
// stored generated columns to the mirror). A rewritten table has no
// visibility map, so the lists' index-only scans would read every row
// from the table again until autovacuum came by, which it does only
// after enough writes; a migration runs in a transaction, where VACUUM
// cannot. A table with pages of which none is known all-visible (as the
// migration's ANALYZE left it) is taken for rewritten.
func (s *Store) vacuumRewritten(ctx context.Context) error {
	var tables []string
	if err := s.db.SelectContext(ctx, &tables, `
SELECT c.oid::regclass::text FROM pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relpages > 0 AND c.relallvisible = 0
 ORDER BY 1`); err != nil {
		return fmt.Errorf("store: migrate: tables to vacuum: %w", err)
	}
	for _, t := range tables {
		// t is the catalog's own rendering of the table's name.
		if _, err := s.db.ExecContext(ctx, `VACUUM (ANALYZE) `+t); err != nil {
			return fmt.Errorf("store: migrate: vacuum %s: %w", t, err)
		}
	}
	return nil
}

// MigrationsCurrent reports whether every embedded migration is applied.
func (s *Store) MigrationsCurrent(ctx context.Context) (bool, error) {
	p, err := gooseProvider(s.db.DB)
	if err != nil {
		return false, err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("store: migration status: %w", err)
	}
	return !pending, nil
}

// TryLock takes the session-level advisory lock key on a connection of its
// own and reports whether it got it. release gives it back. The lock also
// ends when the process dies, so a killed holder never blocks the next run.
func (s *Store) TryLock(ctx context.Context, key int64) (release func(), ok bool, err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("store: lock: %w", err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("store: lock: %w", err)
	}
	if !ok {
		conn.Close()
		return func() {}, false, nil
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, true, nil
}
