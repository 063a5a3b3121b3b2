package store

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// The statements on the hot paths (webhook intake, the event worker, the
// upserts) run as prepared statements: PostgreSQL then parses and plans
// each once per connection instead of on every call, which at thousands of
// events a second is a large share of its work, and lib/pq sends each
// call in one round trip instead of two. Statements that name columns
// with * are kept off this path: a cached plan fails if a migration
// changes the row type under a running server.

// stmtCache holds one prepared statement per query text for the pool;
// database/sql prepares it on each connection as needed.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sqlx.Stmt
}

func (c *stmtCache) get(ctx context.Context, db *sqlx.DB, query string) (*sqlx.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	st, err := db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sqlx.Stmt{}
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// prepared returns query as a prepared statement, bound to the store's
// transaction when it has one.
func (s *Store) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	st, err := s.stmts.get(ctx, s.db, query)
	if err != nil {
		return nil, err
	}
	if s.tx != nil {
		return s.tx.StmtxContext(ctx, st), nil
	}
	return st, nil
}

// execHot and queryHot run a hot-path statement prepared.
func (s *Store) execHot(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (s *Store) queryHot(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
