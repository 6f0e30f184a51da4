package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/internal/memlimit/memlimittest"
)

// TestScanWithinAContainersMemoryLimit scans 500 copies of Online Boutique
// in a cgroup whose limit leaves room for twice what the scan holds live
// (measured first, from the collector's trace), as a CI container's limit
// may, and turns the collector's own pacing off (GOGC=off), so that only a
// memory limit starts a collection. With the soft limit stridemap sets
// from the cgroup the collector works before the limit, and the scan
// completes and is stored; without it (GOMEMLIMIT=off) garbage piles up and
// the kernel kills it: the soft limit made the difference. The limit is
// relative to the live heap, not to a peak, which a busy machine inflates.
// (GOGC=300 was the setting until the scan's own collections, after the
// graph and after the catalog, kept even that heap under the limit.)
func TestScanWithinAContainersMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short: three scans of 18,000 objects")
	}
	in := discovertest.BoutiqueInput(t, 500)
	dir := t.TempDir()
	bin := filepath.Join(dir, "stridemap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	scan := func(cmd *exec.Cmd, env ...string) ([]byte, error) {
		cmd.Env = append(os.Environ(), env...)
		return cmd.CombinedOutput()
	}

	out, err := scan(exec.Command(bin, "--db", filepath.Join(dir, "free.db"), "scan", "-f", in.Dir), "GOMEMLIMIT=", "GODEBUG=gctrace=1")
	if err != nil {
		t.Fatalf("scan without a limit: %v\n%s", err, tail(out))
	}
	live := maxLiveHeap(out)
	if live < 20<<20 {
		t.Fatalf("the collector's trace gives a live heap of %d bytes for 18,000 objects:\n%s", live, tail(out))
	}
	limit := 2*live + 64<<20 // memlimit.Soft leaves 64 MiB of it outside the heap
	t.Logf("live heap at most %d MiB: limit %d MiB", live>>20, limit>>20)

	for _, g := range memlimittest.New(t, limit) {
		t.Run(g.Hierarchy, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "limited.db")
			out, err := scan(g.Command(bin, "-v", "--db", db, "scan", "-f", in.Dir), "GOMEMLIMIT=", "GOGC=off")
			if err != nil {
				t.Fatalf("scan in %s limited to %d bytes (live heap %d): %v\n%s", g.Dir, limit, live, err, tail(out))
			}
			if !strings.Contains(string(out), "soft memory limit") || !strings.Contains(string(out), "Scan #1 stored") {
				t.Errorf("the scan did not say it set the soft limit and stored the scan:\n%s", tail(out))
			}

			out, err = scan(g.Command(bin, "--db", filepath.Join(t.TempDir(), "off.db"), "scan", "-f", in.Dir), "GOMEMLIMIT=off", "GOGC=off")
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
				t.Errorf("with GOMEMLIMIT=off and GOGC=off the scan was not killed (%v) under a limit of %d bytes, twice its live heap and 64 MiB: its garbage should have piled up past it\n%s", err, limit, tail(out))
			}
		})
	}
}

// maxLiveHeap reads GODEBUG=gctrace=1 output ("gc 7 @0.4s 9%: …, 90->95->61 MB,
// …": the heap at the start and end of a cycle, then what was marked live)
// and returns the largest live heap, in bytes.
func maxLiveHeap(trace []byte) int64 {
	var most int64
	for _, m := range gcTraceHeap.FindAllSubmatch(trace, -1) {
		if mb, err := strconv.ParseInt(string(m[1]), 10, 64); err == nil && mb > most {
			most = mb
		}
	}
	return most << 20
}

var gcTraceHeap = regexp.MustCompile(`\d+->\d+->(\d+) MB`)

// tail is the end of a command's output, for a failure message.
func tail(out []byte) string {
	const keep = 2000
	if len(out) > keep {
		return "…" + string(out[len(out)-keep:])
	}
	return string(out)
}
