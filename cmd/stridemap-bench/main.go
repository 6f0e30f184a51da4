// Command stridemap-bench measures "stridemap scan" at scale: it generates
// 10, 100 and 500 copies of Online Boutique (from ../shared/corpus), each
// copy in its own namespace with fully qualified service addresses, runs the
// real binary on each, and prints objects, wall time and peak memory. It
// exits non-zero when the 500-copy target (2 s, 300 MiB) is missed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/stridemap/stridemap/discover/discovertest"
)

func main() {
	bin := flag.String("bin", "bin/stridemap", "stridemap binary to measure")
	corpus := flag.String("corpus", "../shared/corpus/online-boutique/kubernetes-manifests.yaml", "Online Boutique manifest to copy")
	sizes := flag.String("sizes", "10,100,500", "numbers of copies to scan")
	runs := flag.Int("runs", 3, "runs per size; the median wall time is reported")
	keep := flag.String("keep", "", "write the generated inputs and stores into this directory and keep them")
	flag.Parse()
	if err := run(*bin, *corpus, *sizes, *runs, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "stridemap-bench:", err)
		os.Exit(1)
	}
}

// Targets for the largest input, from the foundation issue.
const (
	targetWall = 2 * time.Second
	targetRSS  = 300 << 20
)

type result struct {
	copies, objects int
	bytes           int64
	wall            time.Duration
	peakRSS         int64
}

func run(bin, corpus, sizeList string, runs int, keep string) error {
	base, err := os.ReadFile(corpus)
	if err != nil {
		return fmt.Errorf("read corpus: %w (the benchmark needs ../shared/corpus)", err)
	}
	work := keep
	if work == "" {
		if work, err = os.MkdirTemp("", "stridemap-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}

	var results []result
	for _, field := range strings.Split(sizeList, ",") {
		copies, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || copies < 1 {
			return fmt.Errorf("bad size %q", field)
		}
		in, err := discovertest.WriteBoutiqueCopies(filepath.Join(work, fmt.Sprintf("copies-%d", copies)), base, copies)
		if err != nil {
			return err
		}
		dir := in.Dir
		r := result{copies: copies, objects: in.Objects, bytes: in.Bytes}
		var walls []time.Duration
		for i := 0; i < runs; i++ {
			db := filepath.Join(work, fmt.Sprintf("bench-%d-%d.db", copies, i))
			wall, rss, err := measure(bin, db, dir)
			if err != nil {
				return err
			}
			walls = append(walls, wall)
			r.peakRSS = max(r.peakRSS, rss)
		}
		slices.Sort(walls)
		r.wall = walls[len(walls)/2]
		results = append(results, r)
	}
	return report(results)
}

// measure runs one scan and returns its wall time and peak resident memory.
func measure(bin, db, dir string) (time.Duration, int64, error) {
	cmd := exec.Command(bin, "--db", db, "scan", "-f", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s scan -f %s: %w\n%s", bin, dir, err, stderr.String())
	}
	wall := time.Since(start)
	usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return wall, 0, nil
	}
	return wall, usage.Maxrss * 1024, nil // Linux reports KiB
}

func report(results []result) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "copies\tobjects\tinput MB\twall (median)\tpeak RSS MiB\tµs/object\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%s\t%.0f\t%.1f\t\n", r.copies, r.objects, float64(r.bytes)/1e6,
			r.wall.Round(time.Millisecond), float64(r.peakRSS)/(1<<20), float64(r.wall.Microseconds())/float64(r.objects))
	}
	tw.Flush()
	if len(results) < 2 {
		return nil
	}
	small, large := results[len(results)-2], results[len(results)-1]
	growth := (float64(large.wall) / float64(small.wall)) / (float64(large.objects) / float64(small.objects))
	fmt.Printf("\ntime growth from %d to %d copies: %.2f× the input growth (1.00 is linear)\n", small.copies, large.copies, growth)
	if large.copies >= 500 {
		ok := large.wall < targetWall && large.peakRSS < targetRSS
		verdict := "met"
		if !ok {
			verdict = "MISSED"
		}
		fmt.Printf("target at %d copies: scan + store < %s and < %d MiB peak: %s\n", large.copies, targetWall, targetRSS>>20, verdict)
		if !ok {
			return fmt.Errorf("performance target missed")
		}
	}
	return nil
}
