//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows/flowstest"
)

// TestMain lets lab pods run their servers and clients as processes of
// their own (flowstest.Pod.StartServer, RunClient), and the pod of
// TestScanInCluster mount its ServiceAccount's files: this test binary,
// run again.
func TestMain(m *testing.M) {
	asPod()
	flowstest.Main(m)
}

// buildObserver builds stridemap-observer into dir, unless
// STRIDEMAP_TEST_OBSERVER names one built already: the kernel matrix
// (.ci/kernel-matrix.sh) runs these tests where there is no Go toolchain.
func buildObserver(t *testing.T, dir string) string {
	t.Helper()
	if prebuilt := os.Getenv("STRIDEMAP_TEST_OBSERVER"); prebuilt != "" {
		return prebuilt
	}
	bin := filepath.Join(dir, "stridemap-observer")
	if out, err := exec.Command("go", "build", "-o", bin, "../stridemap-observer").CombinedOutput(); err != nil {
		t.Fatalf("build the observer: %v\n%s", err, out)
	}
	return bin
}

// maxObserving bounds how long the lab tests observe: they interrupt
// "stridemap observe" once their calls are done, which takes longer on a
// kernel emulated without KVM (the kernel matrix) than here.
const maxObserving = 2 * time.Minute

// startObserving runs "stridemap observe" with the observer bin, merging
// into the latest scan, and returns once the observer has attached. The
// function it returns interrupts observe, as Ctrl-C would, waits for it to
// end, fails the test unless it succeeded and lost nothing, and returns
// its result.
func startObserving(t *testing.T, c *cli, bin string, args ...string) (wait func() result) {
	t.Helper()
	ready := make(chan struct{})
	onObserving = func() { close(ready) }
	t.Cleanup(func() { onObserving = nil })
	done := make(chan result, 1)
	ctx, interrupt := context.WithCancel(context.Background())
	t.Cleanup(interrupt)
	go func() {
		done <- c.runContext(ctx, "", append([]string{"observe", "--duration", maxObserving.String(), "--observer", bin}, args...)...)
	}()
	select {
	case <-ready:
	case r := <-done:
		t.Fatalf("observe ended before observing: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("the observer did not attach within 30s")
	}
	return func() result {
		t.Helper()
		// The last connections' close may still be on its way to the kernel.
		time.Sleep(300 * time.Millisecond)
		interrupt()
		r := <-done
		if r.code != 0 {
			t.Fatalf("observe: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "nothing lost") {
			t.Errorf("the observation should have lost nothing:\n%s", r.stderr)
		}
		return r
	}
}

// scanThenObserve scans manifests, then starts "stridemap observe" with
// the real observer, its pods named by inventory (a kubectl List).
func scanThenObserve(t *testing.T, manifests string, inventory []byte) (c *cli, wait func() result) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "shop.yaml"), manifests)
	writeFile(t, filepath.Join(dir, "pods.json"), string(inventory))
	bin := buildObserver(t, dir)
	c = newCLI(t)
	c.mustRun("scan", "-f", filepath.Join(dir, "shop.yaml"))
	return c, startObserving(t, c, bin, "--inventory", filepath.Join(dir, "pods.json"))
}
