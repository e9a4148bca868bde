//go:build unix

package otelauth_test

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU starts counting the process's CPU time and returns the function
// that reports it per operation as "cpu-ns/op": unlike ns/op it does not
// grow when other processes take the CPU away, which on a shared machine
// matters more than the few percent measured here.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
