//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// peakRSS is the most memory a finished process held resident, in bytes;
// 0 when the system does not say.
func peakRSS(ps *os.ProcessState) int64 {
	usage, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return usage.Maxrss // already bytes there
	}
	return usage.Maxrss * 1024 // KiB on Linux and the BSDs
}
