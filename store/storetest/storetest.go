// Package storetest gives each test its own migrated PostgreSQL database.
//
// With TEST_DATABASE_URL set, databases are created on that server;
// otherwise a throwaway cluster is started from the local PostgreSQL
// binaries for the test binary's lifetime. Either way a template database is
// migrated once per test binary, and each test gets a fresh copy of it
// (CREATE DATABASE ... TEMPLATE), dropped when the test ends.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { storetest.Main(m) }
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	_ "github.com/lib/pq" // the PostgreSQL driver

	"paydesk/store"
	"paydesk/store/pgcluster"
)

var (
	serverURL string // URL of the maintenance database on the server in use
	template  string // name of the migrated template database
	counter   atomic.Int64
	cluster   *pgcluster.Cluster
	mu        sync.Mutex
)

// Main sets up the server and template, runs the tests and cleans up. It
// does not return.
func Main(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	ctx := context.Background()
	var tmp string
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		serverURL = u
	} else {
		var err error
		if tmp, err = os.MkdirTemp("", "paydesk-pg-"); err != nil {
			return 0, err
		}
		defer os.RemoveAll(tmp)
		// The postgres user must be able to reach the data folder inside.
		if err := os.Chmod(tmp, 0o755); err != nil {
			return 0, err
		}
		cluster, err = pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(tmp, "data")})
		if err != nil {
			return 0, err
		}
		defer cluster.Stop()
		serverURL = cluster.URL("postgres")
	}
	template = fmt.Sprintf("paydesk_tmpl_%d", os.Getpid())
	if err := createTemplate(ctx); err != nil {
		return 0, err
	}
	defer exec(ctx, serverURL, `DROP DATABASE IF EXISTS `+template+` WITH (FORCE)`)
	return m.Run(), nil
}

func createTemplate(ctx context.Context) error {
	if err := exec(ctx, serverURL, `CREATE DATABASE `+template); err != nil {
		return err
	}
	st, err := store.Open(ctx, withDatabase(serverURL, template))
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.Migrate(ctx)
	return err
}

// URL returns the URL of a new database cloned from the migrated template,
// dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	if template == "" {
		t.Fatal("storetest: call storetest.Main from TestMain")
	}
	name := fmt.Sprintf("paydesk_t_%d_%d", os.Getpid(), counter.Add(1))
	ctx := context.Background()
	// CREATE DATABASE ... TEMPLATE fails while another clone of the same
	// template is being made, so clones are made one at a time.
	mu.Lock()
	err := exec(ctx, serverURL, `CREATE DATABASE `+name+` TEMPLATE `+template)
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := exec(context.Background(), serverURL, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("storetest: drop %s: %v", name, err)
		}
	})
	return withDatabase(serverURL, name)
}

// New returns a Store on a fresh database, closed when t ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	st, _ := NewWithURL(t)
	return st
}

// NewWithURL is New that also returns the database's URL, for tests that
// hand it to a paydesk process.
func NewWithURL(t testing.TB) (*store.Store, string) {
	t.Helper()
	url := URL(t)
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, url
}

// Cluster returns the throwaway cluster, or nil when TEST_DATABASE_URL is in
// use. Fault tests stop and start it.
func Cluster() *pgcluster.Cluster { return cluster }

func exec(ctx context.Context, dsn, stmt string) error {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("storetest: %s: %w", strings.SplitN(stmt, " ", 3)[:2], err)
	}
	return nil
}

func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + name
	return u.String()
}
