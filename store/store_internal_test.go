package store

import "testing"

func TestWithSessionSettings(t *testing.T) {
	cases := map[string]string{
		"postgres://u:p@h:5432/db":                     "postgres://u:p@h:5432/db?jit=off&plan_cache_mode=force_custom_plan",
		"postgres://h/db?sslmode=disable":              "postgres://h/db?jit=off&plan_cache_mode=force_custom_plan&sslmode=disable",
		"postgres://h/db?plan_cache_mode=auto&jit=on":  "postgres://h/db?jit=on&plan_cache_mode=auto",
		"host=h dbname=db user=u":                      "host=h dbname=db user=u plan_cache_mode=force_custom_plan jit=off",
		"host=h dbname=db plan_cache_mode=auto jit=on": "host=h dbname=db plan_cache_mode=auto jit=on",
	}
	for in, want := range cases {
		if got := withSessionSettings(in); got != want {
			t.Errorf("withSessionSettings(%q) = %q, want %q", in, got, want)
		}
	}
}
