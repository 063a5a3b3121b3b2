package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"paydesk/store/storetest"
	"paydesk/stripeapi/stripefake"
)

// binary is paydesk built once for the tests that run it as a process.
var (
	binary    string
	templates stripefake.Templates
)

func TestMain(m *testing.M) {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	storetest.Main(m)
}

func setup() error {
	dir, err := os.MkdirTemp("", "paydesk-bin-")
	if err != nil {
		return err
	}
	binary = filepath.Join(dir, "paydesk")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("build paydesk: %v\n%s", err, out)
	}
	templates, err = stripefake.LoadTemplates(context.Background())
	return err
}
