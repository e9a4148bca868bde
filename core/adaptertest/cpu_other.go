//go:build !unix

package adaptertest

import "testing"

// ReportCPU reports nothing where getrusage is missing (see cpu_unix.go).
func ReportCPU(*testing.B) func() { return func() {} }
