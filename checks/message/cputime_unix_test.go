//go:build unix

package message

import (
	"syscall"
	"time"
)

// cpuTime is the CPU the process has used (user and system, every thread): a benchmark
// figure that other load on the machine does not inflate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
