// Command authgate is the operator tool of authgate.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "version" {
		fmt.Fprintln(stdout, "authgate", moduleVersion())
		return 0
	}
	fmt.Fprintln(stderr, "usage: authgate version")
	return 2
}

// moduleVersion is the version of the module the binary was built from
// ("(devel)" in the workspace).
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "(unknown)"
}
