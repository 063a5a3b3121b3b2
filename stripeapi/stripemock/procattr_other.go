//go:build !linux

package stripemock

import "os/exec"

// dieWithParent is Linux's parent-death signal; elsewhere a killed parent
// leaves the mock running until it is stopped by hand.
func dieWithParent(*exec.Cmd) {}
