//go:build !linux

package load

import "os/exec"

// dieWithParent does nothing off Linux: the servers stop when their stdin
// closes, and Run stops Redis on its way out.
func dieWithParent(*exec.Cmd) {}
