package stripemock

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill stripe-mock when the process that
// started it dies, even by SIGKILL, so a killed demo or test binary leaves
// no mock behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
