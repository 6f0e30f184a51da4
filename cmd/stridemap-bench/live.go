package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/cluster"
	"github.com/stridemap/stridemap/discover/cluster/clustertest"
	"github.com/stridemap/stridemap/discover/discovertest"
	"github.com/stridemap/stridemap/discover/manifests"
	"github.com/stridemap/stridemap/pipeline"
)

// targetLiveRatio is how much longer a live scan may take than a scan of
// the same objects' files (issue 12).
const targetLiveRatio = 2.0

// applyWorkers is how many copies are applied to the server at once.
const applyWorkers = 8

// scanOutcome is what one measured scan, run in a child process, did.
type scanOutcome struct {
	Objects  int   `json:"objects"`
	Nodes    int   `json:"nodes"`
	Findings int   `json:"findings"`
	Problems int   `json:"problems"`
	ReadNs   int64 `json:"read_ns"` // from the start until every object was read

	wall, cpu time.Duration
	peakRSS   int64
}

// runLive loads copies of Online Boutique into a test API server and scans
// the same objects from their files and from the server, alternately, each
// scan in a child process of its own so its peak memory is its own. The
// requests each live scan made are counted in the server's audit log, by
// the identity that scan used. Without the kube binaries it says so and
// measures nothing, unless $CI is set.
func runLive(base []byte, copies, runs int, work string) error {
	srv, err := clustertest.New()
	if errors.Is(err, clustertest.ErrNoBinaries) && os.Getenv("CI") == "" {
		fmt.Printf("\nlive scan: skipped: %v\n", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("live scan: start the test API server: %w", err)
	}
	defer srv.Stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	in, err := discovertest.WriteBoutiqueCopies(filepath.Join(work, fmt.Sprintf("live-%d", copies)), base, copies)
	if err != nil {
		return err
	}
	fmt.Printf("\nlive scan: applying %d copies of Online Boutique (%d objects) to a test API server at %s\n", copies, in.Objects, srv.URL)
	if err := load(srv, in.Dir, copies); err != nil {
		return err
	}

	var files, live []scanOutcome
	users := map[string]bool{}
	for i := range runs {
		f, err := measureChild(self, "files", filepath.Join(work, fmt.Sprintf("live-files-%d.db", i)), in.Dir)
		if err != nil {
			return err
		}
		files = append(files, f)
		user := fmt.Sprintf("stridemap-bench-%d", i)
		users[user] = true
		kubeconfig, err := srv.WriteKubeconfig(user, clustertest.AdminGroup)
		if err != nil {
			return err
		}
		l, err := measureChild(self, "live", filepath.Join(work, fmt.Sprintf("live-live-%d.db", i)), kubeconfig)
		if err != nil {
			return err
		}
		live = append(live, l)
		fmt.Printf("  run %d: files %s, live %s\n", i+1, f.wall.Round(time.Millisecond), l.wall.Round(time.Millisecond))
	}
	events, err := srv.AuditEvents()
	if err != nil {
		return err
	}
	requests := 0
	for _, e := range events {
		if users[e.User.Username] {
			requests++
		}
	}
	return reportLive(copies, runs, files, live, requests/runs)
}

// load applies the copies, several at once, printing progress.
func load(srv *clustertest.Server, dir string, copies int) error {
	started := time.Now()
	next := make(chan int)
	var applied, done atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range applyWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				path := filepath.Join(dir, fmt.Sprintf("shop-%03d.yaml", i))
				data, err := os.ReadFile(path)
				if err == nil {
					var ok, skipped []string
					ok, skipped, err = srv.ApplyManifests(context.Background(), "", data)
					applied.Add(int64(len(ok)))
					if err == nil && len(skipped) > 0 {
						err = fmt.Errorf("%s: %d objects not applied, the first: %s", path, len(skipped), skipped[0])
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
				if n := done.Add(1); n%10 == 0 || int(n) == copies {
					fmt.Printf("  applied %d/%d copies (%d objects, %s)\n", n, copies, applied.Load(), time.Since(started).Round(100*time.Millisecond))
				}
			}
		}()
	}
	for i := range copies {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// measureChild runs this program again to scan once, from files or from
// the server, and returns what the scan did with its wall time, CPU time
// and peak resident memory.
func measureChild(self, source, db, input string) (scanOutcome, error) {
	cmd := exec.Command(self, "-child", source, "-child-db", db, "-child-input", input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return scanOutcome{}, fmt.Errorf("%s scan of %s: %w\n%s", source, input, err, stderr.String())
	}
	wall := time.Since(start)
	var out scanOutcome
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return out, fmt.Errorf("%s scan of %s: %w: %q", source, input, err, stdout.String())
	}
	out.wall = wall
	out.peakRSS = peakRSS(cmd.ProcessState)
	out.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return out, nil
}

// childScan is the child's side of measureChild: one scan through the
// pipeline, as "stridemap scan" makes it, with the built-in catalog,
// summarised as JSON on stdout.
func childScan(source, db, input string) error {
	var req pipeline.Request
	switch source {
	case "files":
		req.Manifests = manifests.Request{Paths: []string{input}, DefaultNamespace: "default"}
	case "live":
		req.Cluster = &cluster.Request{Kubeconfig: input}
	default:
		return fmt.Errorf("-child %q: want files or live", source)
	}
	var timings bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&timings, &slog.HandlerOptions{Level: slog.LevelDebug}))
	problems := &problemCount{}
	res, err := pipeline.Scan(context.Background(), pipeline.Env{Store: db, ToolVersion: "bench", Report: problems, Log: log}, req)
	if err != nil {
		return err
	}
	out := scanOutcome{Objects: res.Scan.Counts.Objects, Nodes: res.Scan.Counts.Nodes, Findings: res.Scan.Counts.Findings, Problems: problems.n}
	lines := bufio.NewScanner(&timings)
	for lines.Scan() {
		var step struct {
			Msg  string `json:"msg"`
			Took int64  `json:"took"`
		}
		if json.Unmarshal(lines.Bytes(), &step) == nil && step.Msg == "collected" {
			out.ReadNs = step.Took
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// problemCount counts the problems a scan reports.
type problemCount struct{ n int }

func (p *problemCount) Reading(string)           {}
func (p *problemCount) Step(string)              {}
func (p *problemCount) Problem(discover.Problem) { p.n++ }
func (p *problemCount) Warning(string)           {}

func reportLive(copies, runs int, files, live []scanOutcome, requests int) error {
	fmt.Printf("\nlive scan of %d copies of Online Boutique in a test kube-apiserver, beside a scan of the same objects' files (median of %d runs, the built-in catalog evaluated)\n", copies, runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "source\tobjects\tnodes\tfindings\tproblems\tread\tscan (median)\tCPU\tpeak MiB\trequests\t")
	row := func(name string, runs []scanOutcome, requests string) (wall, cpu time.Duration) {
		r := runs[0]
		wall = medianOf(runs, func(o scanOutcome) time.Duration { return o.wall })
		read := medianOf(runs, func(o scanOutcome) time.Duration { return time.Duration(o.ReadNs) })
		cpu = medianOf(runs, func(o scanOutcome) time.Duration { return o.cpu })
		var peak int64
		for _, o := range runs {
			peak = max(peak, o.peakRSS)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%.0f\t%s\t\n", name, r.Objects, r.Nodes, r.Findings, r.Problems,
			read.Round(time.Millisecond), wall.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(peak)/(1<<20), requests)
		return wall, cpu
	}
	fileWall, fileCPU := row("files", files, "-")
	liveWall, liveCPU := row("live", live, fmt.Sprint(requests))
	tw.Flush()
	fmt.Println("read: from the start until every object was read (the catalog is loaded first); scan, CPU, peak: the whole scanning process; requests: one live scan's, from the server's audit log")
	// CPU time, which other work on the machine disturbs less than wall
	// time, says whether a miss is the scan's or the machine's.
	fmt.Printf("live/file CPU: %.2f×\n", float64(liveCPU)/float64(fileCPU))
	ratio := float64(liveWall) / float64(fileWall)
	fmt.Printf("live/file time: %.2f× (target ≤ %.0f×): %s\n", ratio, targetLiveRatio, verdict(ratio <= targetLiveRatio))
	if ratio > targetLiveRatio {
		return fmt.Errorf("live scan target missed")
	}
	return nil
}

func medianOf(runs []scanOutcome, value func(scanOutcome) time.Duration) time.Duration {
	values := make([]time.Duration, len(runs))
	for i, o := range runs {
		values[i] = value(o)
	}
	return median(values)
}
