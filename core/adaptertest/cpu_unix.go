//go:build unix

package adaptertest

import (
	"syscall"
	"testing"
	"time"
)

// ReportCPU starts counting the process's CPU time (user + system, every
// thread, GC included) and returns the function that reports it per
// operation as "cpu-ns/op": unlike ns/op it does not grow when other
// processes take the CPU away, and under RunParallel it grows when the
// goroutines contend, so serial vs parallel shows whether a path scales even
// on a busy machine. Where getrusage is missing it reports nothing.
func ReportCPU(b *testing.B) func() {
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
