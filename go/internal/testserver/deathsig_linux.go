package testserver

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel stop the server when the test process dies without
// running its cleanups (a test timeout panics, a kill -9).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
