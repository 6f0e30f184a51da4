// Command stridemap-bench measures "stridemap scan" at scale: it generates
// 10, 100 and 500 copies of Online Boutique (from ../shared/corpus), each
// copy in its own namespace with fully qualified service addresses, runs the
// real binary on each, with and without the threat catalog, and prints
// objects, findings, wall time and peak memory. It exits non-zero when a
// 500-copy target is missed: discovery and storage (--skip-threats) in 2 s
// and 300 MiB, the full catalog adding less than 1 s, and the full scan
// peaking at 200 MiB at most.
//
// Then it draws the overview of the largest scan and writes its HTML
// report, and, when a kube-score binary is on PATH, runs it and a full scan
// alternately on the largest input in one file and compares their CPU
// time.
//
// Then it scans 8,700 copies (313,200 objects, -huge-copies) in one file of
// about 200 MB, once, and exits non-zero when its peak reaches 1.5 GiB.
//
// Then it scans copies all in one namespace, each workload with its own
// Service, policies and monitor, at two sizes, and exits
// non-zero when the CPU time per object grows with the namespace.
//
// Then it re-scans the largest input 100 times (-rescans), one change each,
// and prints the store's bytes per scan with and without rows shared
// between scans, and what "scans prune --keep 10" hands back.
//
// Then it loads 100 copies into a test kube-apiserver (discover/cluster/
// clustertest) and scans them live, beside a scan of their files: wall and
// CPU time, peak memory and the requests the live scan made. It exits
// non-zero when the live scan takes more than twice as long.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	rescans := flag.Int("rescans", 100, "re-scans of the largest size, one change each, to measure the store's growth; 0 skips it")
	liveCopies := flag.Int("live-copies", 100, "copies loaded into a test API server and scanned live; 0 skips the live scan")
	hugeCopies := flag.Int("huge-copies", 8700, "copies scanned once in one file to check the memory budget at scale (8,700 are 313,200 objects); 0 skips it")
	namespaceCopies := flag.String("namespace-copies", "100,400", "two numbers of copies scanned all in one namespace, to check the work per object stays flat; empty skips it")
	child := flag.String("child", "", "internal: scan once (files or live) and print what the scan did as JSON")
	childDB := flag.String("child-db", "", "internal: the child's store")
	childInput := flag.String("child-input", "", "internal: the child's directory of manifests, or kubeconfig")
	flag.Parse()
	if *child != "" {
		if err := childScan(*child, *childDB, *childInput); err != nil {
			fmt.Fprintln(os.Stderr, "stridemap-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*bin, *corpus, *sizes, *runs, *liveCopies, *rescans, *hugeCopies, *namespaceCopies, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "stridemap-bench:", err)
		os.Exit(1)
	}
}

// kubeScoreRuns is how many times each of stridemap and kube-score runs,
// alternately, in the comparison.
const kubeScoreRuns = 5

// Targets for the largest input: discovery and storage from the foundation
// issue, the catalog's extra time from the threat engine's, the full scan's
// peak from the performance issue's.
const (
	targetWall    = 2 * time.Second
	targetRSS     = 300 << 20
	targetCatalog = time.Second
	targetFullRSS = 200 << 20
)

type result struct {
	copies, objects int
	bytes           int64
	wall            time.Duration // --skip-threats: discovery, graph, store
	peakRSS         int64
	fullWall        time.Duration // with the built-in catalog evaluated and findings stored
	fullRSS         int64
}

func run(bin, corpus, sizeList string, runs, liveCopies, rescans, hugeCopies int, namespaceCopies, keep string) error {
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
		var walls, fullWalls []time.Duration
		for i := 0; i < runs; i++ {
			wall, rss, err := measure(bin, filepath.Join(work, fmt.Sprintf("bench-%d-%d.db", copies, i)), dir, "--skip-threats")
			if err != nil {
				return err
			}
			walls = append(walls, wall)
			r.peakRSS = max(r.peakRSS, rss)
			wall, rss, err = measure(bin, filepath.Join(work, fmt.Sprintf("bench-full-%d-%d.db", copies, i)), dir)
			if err != nil {
				return err
			}
			fullWalls = append(fullWalls, wall)
			r.fullRSS = max(r.fullRSS, rss)
		}
		r.wall, r.fullWall = median(walls), median(fullWalls)
		results = append(results, r)
	}
	err = report(results)
	if len(results) > 0 {
		large := results[len(results)-1]
		db := filepath.Join(work, fmt.Sprintf("bench-full-%d-%d.db", large.copies, runs-1))
		err = errors.Join(err, runViews(bin, db, large.copies, runs, work))
		err = errors.Join(err, runKubeScore(bin, filepath.Join(work, fmt.Sprintf("copies-%d", large.copies)), large.copies, kubeScoreRuns, work))
	}
	if hugeCopies > 0 {
		err = errors.Join(err, runHuge(bin, base, hugeCopies, work))
	}
	if namespaceCopies != "" {
		small, large, ok := strings.Cut(namespaceCopies, ",")
		s, err1 := strconv.Atoi(strings.TrimSpace(small))
		l, err2 := strconv.Atoi(strings.TrimSpace(large))
		if !ok || err1 != nil || err2 != nil || s < 1 || l <= s {
			return fmt.Errorf("bad -namespace-copies %q: want two numbers of copies, the smaller first, as in 100,400", namespaceCopies)
		}
		err = errors.Join(err, runOneNamespace(bin, base, s, l, runs, work))
	}
	if rescans > 0 && len(results) > 0 {
		err = errors.Join(err, runHistory(bin, base, results[len(results)-1].copies, rescans, work))
	}
	if liveCopies > 0 {
		err = errors.Join(err, runLive(base, liveCopies, runs, work))
	}
	return err
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// measure runs one scan and returns its wall time and peak resident memory.
func measure(bin, db, dir string, extra ...string) (time.Duration, int64, error) {
	u, err := measureCommand(exec.Command(bin, append([]string{"--db", db, "scan", "-f", dir}, extra...)...))
	return u.wall, u.rss, err
}

func report(results []result) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "copies\tobjects\tinput MB\tscan (median)\tpeak MiB\tµs/object\twith catalog\tpeak MiB\tcatalog adds\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%s\t%.0f\t%.1f\t%s\t%.0f\t%s\t\n", r.copies, r.objects, float64(r.bytes)/1e6,
			r.wall.Round(time.Millisecond), float64(r.peakRSS)/(1<<20), float64(r.wall.Microseconds())/float64(r.objects),
			r.fullWall.Round(time.Millisecond), float64(r.fullRSS)/(1<<20), (r.fullWall - r.wall).Round(time.Millisecond))
	}
	tw.Flush()
	if len(results) < 2 {
		return nil
	}
	small, large := results[len(results)-2], results[len(results)-1]
	growth := (float64(large.wall) / float64(small.wall)) / (float64(large.objects) / float64(small.objects))
	fmt.Printf("\ntime growth from %d to %d copies: %.2f× the input growth (1.00 is linear)\n", small.copies, large.copies, growth)
	if large.copies < 500 {
		return nil
	}
	ok := true
	check := func(met bool, format string, args ...any) {
		ok = ok && met
		fmt.Printf(format+": %s\n", append(args, verdict(met))...)
	}
	check(large.wall < targetWall && large.peakRSS < targetRSS, "target at %d copies: scan + store < %s and < %d MiB peak", large.copies, targetWall, targetRSS>>20)
	check(large.fullWall-large.wall < targetCatalog, "target at %d copies: the full catalog adds < %s", large.copies, targetCatalog)
	check(large.fullRSS <= targetFullRSS, "target at %d copies: the full scan peaks at most %d MiB (the highest of its runs): %.0f MiB", large.copies, targetFullRSS>>20, float64(large.fullRSS)/(1<<20))
	if !ok {
		return fmt.Errorf("performance target missed")
	}
	return nil
}

// verdict is how the table says whether a target was met.
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}
