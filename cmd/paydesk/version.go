package main

import (
	"context"
	"fmt"
	"runtime"

	"paydesk/stripeapi"
)

func runVersion(_ context.Context, env *environment, args []string) error {
	fs := newFlags(env, "version", "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "paydesk %s (%s, Stripe API %s)\n", version, runtime.Version(), stripeapi.APIVersion)
	return nil
}
