package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/internal/memlimit/memlimittest"
)

// TestScanWithinAContainersMemoryLimit scans 500 copies of Online Boutique
// in a cgroup limited to two thirds of the scan's peak without a limit:
// room for what the scan holds, not for the garbage Go's collector lets
// pile up by default, as a CI container's limit may be. With the soft
// limit stridemap sets from the cgroup the scan completes and is stored;
// without it (GOMEMLIMIT=off) the kernel kills it, which shows that the
// soft limit made the difference.
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
	scan := func(cmd *exec.Cmd, gomemlimit string) ([]byte, error) {
		cmd.Env = append(os.Environ(), "GOMEMLIMIT="+gomemlimit)
		return cmd.CombinedOutput()
	}

	free := exec.Command(bin, "--db", filepath.Join(dir, "free.db"), "scan", "-f", in.Dir)
	if out, err := scan(free, ""); err != nil {
		t.Fatalf("scan without a limit: %v\n%s", err, out)
	}
	peak := free.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	// Measured at 500 copies, with a peak of 245 MB: the scan completes
	// with the soft limit down to 150 MB, and is killed without it at up
	// to 200 MB; two thirds sits between.
	limit := peak * 2 / 3

	for _, g := range memlimittest.New(t, limit) {
		t.Run(g.Hierarchy, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "limited.db")
			out, err := scan(g.Command(bin, "-v", "--db", db, "scan", "-f", in.Dir), "")
			if err != nil {
				t.Fatalf("scan in %s limited to %d bytes (its peak without a limit: %d): %v\n%s", g.Dir, limit, peak, err, tail(out))
			}
			if !strings.Contains(string(out), "soft memory limit") || !strings.Contains(string(out), "Scan #1 stored") {
				t.Errorf("the scan did not say it set the soft limit and stored the scan:\n%s", tail(out))
			}

			out, err = scan(g.Command(bin, "--db", filepath.Join(t.TempDir(), "off.db"), "scan", "-f", in.Dir), "off")
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
				t.Errorf("with GOMEMLIMIT=off the scan was not killed (%v), so this limit (2/3 of the peak, %d bytes) no longer shows what the soft limit does: the scan's memory changed, revisit the fraction\n%s", err, limit, tail(out))
			}
		})
	}
}

// tail is the end of a command's output, for a failure message.
func tail(out []byte) string {
	const keep = 2000
	if len(out) > keep {
		return "…" + string(out[len(out)-keep:])
	}
	return string(out)
}
