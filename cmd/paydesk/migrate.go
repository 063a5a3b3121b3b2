package main

import (
	"context"
	"errors"
	"fmt"

	"paydesk/store"
)

func runMigrate(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "migrate", "migrate\n\nApplies every pending database migration (DATABASE_URL).")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadEnvConfig(env)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(env.stdout, "database is up to date")
		return nil
	}
	fmt.Fprintf(env.stdout, "applied migrations %v\n", applied)
	return nil
}

// openStore connects to DATABASE_URL. Its error names the variable and
// never the URL, which may hold a password.
func openStore(ctx context.Context, cfg config) (*store.Store, error) {
	if err := cfg.needDatabase(); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, string(cfg.DatabaseURL))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the database named by DATABASE_URL: %w", innerError(err))
	}
	return st, nil
}

// innerError drops one layer of wrapping ("store: connect: ..."), leaving
// the driver's own words.
func innerError(err error) error {
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}
