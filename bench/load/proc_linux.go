package load

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd when the generator dies, however
// it dies (the servers also stop when their stdin closes; Redis does not).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
