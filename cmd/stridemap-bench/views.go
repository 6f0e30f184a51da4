package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets for what an auditor makes of the largest scan (the performance
// issue): its overview diagram and its HTML report.
const (
	targetOverview = 5 * time.Second
	targetHTML     = 2 * time.Second
	// targetKubeScoreCPU is the most CPU a full scan may take against
	// kube-score's on the same file.
	targetKubeScoreCPU = 0.3
)

// usage is what one process took.
type usage struct {
	wall, cpu time.Duration
	rss       int64
}

// measureCommand runs cmd, its output discarded, and returns what it took.
// An exit code in tolerated is not a failure.
func measureCommand(cmd *exec.Cmd, tolerated ...int) (usage, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && slices.Contains(tolerated, exit.ExitCode())) {
		return usage{}, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	ps := cmd.ProcessState
	return usage{wall: time.Since(start), cpu: ps.UserTime() + ps.SystemTime(), rss: peakRSS(ps)}, nil
}

func medianUsage(runs []usage) usage {
	var walls, cpus []time.Duration
	var rss int64
	for _, r := range runs {
		walls, cpus = append(walls, r.wall), append(cpus, r.cpu)
		rss = max(rss, r.rss)
	}
	return usage{wall: median(walls), cpu: median(cpus), rss: rss}
}

// runViews draws the overview of the largest scan (db) and writes its HTML
// report, runs times each, with the stridemap-render beside bin.
func runViews(bin, db string, copies, runs int, work string) error {
	if _, err := os.Stat(filepath.Join(filepath.Dir(bin), "stridemap-render")); err != nil {
		return fmt.Errorf("views: stridemap-render is not beside %s (make build builds both): %w", bin, err)
	}
	views := []struct {
		name   string
		args   []string
		target time.Duration
	}{
		{"overview SVG (graph --format svg)", []string{"graph", "--format", "svg", "-o", filepath.Join(work, "overview.svg")}, targetOverview},
		{"HTML report (report --format html)", []string{"report", "--format", "html", "-o", filepath.Join(work, "report.html")}, targetHTML},
	}
	fmt.Printf("\nviews of the %d-copy scan (median of %d runs):\n", copies, runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "view\twall\tCPU\tpeak MiB\ttarget\t\t")
	ok := true
	for _, v := range views {
		var all []usage
		for range runs {
			u, err := measureCommand(exec.Command(bin, append([]string{"--db", db}, v.args...)...))
			if err != nil {
				return err
			}
			all = append(all, u)
		}
		m := medianUsage(all)
		met := m.wall < v.target
		ok = ok && met
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t< %s\t%s\t\n", v.name, m.wall.Round(time.Millisecond), m.cpu.Round(time.Millisecond), float64(m.rss)/(1<<20), v.target, verdict(met))
	}
	tw.Flush()
	if !ok {
		return fmt.Errorf("views: performance target missed")
	}
	return nil
}

// runKubeScore compares a full scan with kube-score's on the same input in
// one file, run alternately, when a kube-score binary is on PATH (it is not
// a dependency). kube-score checks each object alone; stridemap builds the
// graph, evaluates NetworkPolicies per flow, runs its catalog and stores a
// history, so its CPU time is the one to compare.
func runKubeScore(bin, dir string, copies, runs int, work string) error {
	kubeScore, err := exec.LookPath("kube-score")
	if err != nil {
		fmt.Println("\nkube-score comparison: skipped, no kube-score on PATH (install it to compare: it is not a dependency)")
		return nil
	}
	// One file, as kube-score reads it.
	input := filepath.Join(work, fmt.Sprintf("all-%d.yaml", copies))
	size, err := concatenate(dir, input)
	if err != nil {
		return fmt.Errorf("kube-score comparison: %w", err)
	}
	var ours, theirs []usage
	for i := range runs {
		u, err := measureCommand(exec.Command(bin, "--db", filepath.Join(work, fmt.Sprintf("kube-score-%d.db", i)), "scan", "-f", input))
		if err != nil {
			return err
		}
		ours = append(ours, u)
		// kube-score exits 1 when it scores something critical, which on
		// this input it does: only a failure to run is an error.
		u, err = measureCommand(exec.Command(kubeScore, "score", input), 1)
		if err != nil {
			return err
		}
		theirs = append(theirs, u)
	}
	s, k := medianUsage(ours), medianUsage(theirs)
	fmt.Printf("\nkube-score comparison on %d copies in one file (%.1f MB), %d alternating runs, medians:\n", copies, float64(size)/1e6, runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "command\twall\tCPU\tpeak MiB\t")
	fmt.Fprintf(tw, "stridemap scan (catalog included)\t%s\t%s\t%.0f\t\n", s.wall.Round(time.Millisecond), s.cpu.Round(time.Millisecond), float64(s.rss)/(1<<20))
	fmt.Fprintf(tw, "kube-score score\t%s\t%s\t%.0f\t\n", k.wall.Round(time.Millisecond), k.cpu.Round(time.Millisecond), float64(k.rss)/(1<<20))
	tw.Flush()
	ratio := float64(s.cpu) / float64(k.cpu)
	met := ratio <= targetKubeScoreCPU
	fmt.Printf("target: stridemap's CPU at most %.1f× kube-score's: %.2f×: %s\n", targetKubeScoreCPU, ratio, verdict(met))
	if !met {
		return fmt.Errorf("kube-score comparison: performance target missed")
	}
	return nil
}
