//go:build !linux

// Command stridemap-observer observes TCP connections with eBPF; it runs on
// Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "stridemap-observer: eBPF flow observation needs Linux")
	os.Exit(1)
}
