package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"
)

// sqlxGet and sqlxSelect run on the store's pool or, inside InTx, its
// transaction.
func sqlxGet(ctx context.Context, s *Store, dest any, query string, args ...any) error {
	return sqlx.GetContext(ctx, s.q, dest, query, args...)
}

func sqlxSelect(ctx context.Context, s *Store, dest any, query string, args ...any) error {
	return sqlx.SelectContext(ctx, s.q, dest, query, args...)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
