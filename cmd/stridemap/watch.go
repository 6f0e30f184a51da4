package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/pipeline"
	"github.com/stridemap/stridemap/threats"
)

type watchOptions struct {
	scanOptions
	every    time.Duration
	ticks    int
	driftDir string
}

func (a *app) watchCommand() *cobra.Command {
	var opts watchOptions
	cmd := &cobra.Command{
		Use:   "watch (-f PATH... | -k DIR... | --live) [--every 5m]",
		Short: "Re-scan on a schedule and store a new scan only when something changed",
		Long: `Scan the same sources again every --every interval, as a platform team's
schedule would: manifests (-f, -k), a live cluster (--live), flow logs (--flows
DIR, read again each time). A re-scan that finds what the previous scan holds
(the same graph and findings, whatever resourceVersions or flow counts moved)
stores nothing: it only marks the previous scan confirmed, so the history holds
changes, not ticks. A re-scan that differs is stored, and what changed is printed
(elements, flows, controls and findings added and removed) and, with
--drift-dir, written there for other tools: drift-OLD-NEW.json (the schema of
stridemap diff --format json) and drift-OLD-NEW.md (stridemap diff --format md).

A failing source (an unreachable cluster, a list the cluster did not answer in
time, files that change while they are read, as in a checkout) fails that tick
only: it is reported, recorded in the store (stridemap scans lists the failures
since the latest scan of each target), and the next tick tries again, so that
what was not read does not show as removed. Kinds the credentials may not list
are the same on every tick: they are stored as coverage gaps, as by scan.
Ctrl-C or SIGTERM stops between ticks, or abandons the scan in progress without
storing half of it.

The sources take the flags of stridemap scan (see stridemap scan --help).`,
		Example: `  stridemap watch -f k8s/ --every 10m
  stridemap watch --live --every 1h --drift-dir /var/lib/stridemap/drift
  stridemap watch -k overlays/prod --flows /var/log/stridemap/flows --every 15m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.checkSources("watch"); err != nil {
				return err
			}
			if slices.Contains(opts.files, "-") {
				return fmt.Errorf("-f -: standard input can be read once, not on every tick: name files or directories")
			}
			if opts.every <= 0 {
				return fmt.Errorf("--every: give a positive interval, such as 5m")
			}
			if opts.ticks < 0 {
				return fmt.Errorf("--ticks: give a number of scans, or 0 to watch until stopped")
			}
			return a.runWatch(cmd.Context(), opts)
		},
	}
	opts.registerSources(cmd)
	cmd.Flags().DurationVar(&opts.every, "every", 5*time.Minute, "how long from the start of one scan to the start of the next")
	cmd.Flags().IntVar(&opts.ticks, "ticks", 0, "stop after this many scans (0: until Ctrl-C or SIGTERM)")
	cmd.Flags().StringVar(&opts.driftDir, "drift-dir", "", "write what each stored scan changed into this directory, as drift-OLD-NEW.json and drift-OLD-NEW.md")
	_ = cmd.MarkFlagDirname("drift-dir")
	return cmd
}

func (a *app) runWatch(ctx context.Context, opts watchOptions) error {
	if opts.driftDir != "" {
		if err := os.MkdirAll(opts.driftDir, 0o755); err != nil {
			return fmt.Errorf("--drift-dir: %w", err)
		}
	}
	var last pipeline.Rescan
	for tick := 1; ; tick++ {
		started := time.Now()
		last = a.watchTick(ctx, opts, last)
		if ctx.Err() != nil || (opts.ticks > 0 && tick >= opts.ticks) {
			if ctx.Err() != nil {
				fmt.Fprintf(a.stderr, "%s stopped\n", clock(time.Now()))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(a.stderr, "%s stopped\n", clock(time.Now()))
			return nil
		case <-time.After(time.Until(started.Add(opts.every))):
		}
	}
}

// watchTick scans once and says what it found; it returns what the next
// tick needs (the target the last good scan had). A failure is reported (the pipeline records it)
// and leaves last.
func (a *app) watchTick(ctx context.Context, opts watchOptions, last pipeline.Rescan) pipeline.Rescan {
	req := opts.request()
	req.Rescan = &last
	report := a.reporter()
	res, err := pipeline.Scan(ctx, a.env(report), req)
	report.done()
	now := clock(time.Now())
	switch {
	case err != nil && ctx.Err() != nil:
		return last // stopped: the scan in progress was not stored
	case err != nil:
		fmt.Fprintf(a.stderr, "%s scan failed, nothing stored (the next tick tries again): %s\n", now, safetext.Text(err.Error()))
		return last
	}
	next := pipeline.Rescan{Target: res.Scan.Target}
	if res.Unchanged {
		fmt.Fprintf(a.stdout, "%s unchanged since scan #%d\n", now, res.Scan.ID)
		return next
	}
	id := res.Scan.ID
	// A stop that comes once the scan is stored still lets the tick say
	// what it stored: reading the change is quick and the user asked for it.
	diff, err := a.diffSince(context.WithoutCancel(ctx), res.Scan)
	switch {
	case err != nil:
		fmt.Fprintf(a.stderr, "%s scan #%d stored; what changed could not be read: %s\n", now, id, safetext.Text(err.Error()))
		return next
	case diff == nil:
		fmt.Fprintf(a.stdout, "%s scan #%d stored, the first of its target: %s, %s, %s\n", now, id, plural(res.Scan.Counts.Nodes, "element"), plural(res.Scan.Counts.Edges, "flow"), plural(len(res.Findings), "finding"))
		return next
	}
	previous := diff.Old.ID
	fmt.Fprintf(a.stdout, "%s scan #%d stored, changed since #%d:\n", now, id, previous)
	if err := export.WriteDiffText(a.stdout, diff); err != nil {
		fmt.Fprintf(a.stderr, "%s %s\n", now, safetext.Message(err.Error()))
	}
	if opts.driftDir != "" {
		// JSON for tools, Markdown for people: a pull request, a ticket.
		for _, f := range []struct {
			ext   string
			write func(io.Writer, *export.Diff) error
		}{{"json", export.WriteDiffJSON}, {"md", export.WriteDiffMarkdown}} {
			path := filepath.Join(opts.driftDir, fmt.Sprintf("drift-%d-%d.%s", previous, id, f.ext))
			if err := writeOutput(a.stdout, path, func(w io.Writer) error { return f.write(w, diff) }); err != nil {
				fmt.Fprintf(a.stderr, "%s %s\n", now, safetext.Text(err.Error()))
			}
		}
	}
	return next
}

// diffSince is what changed from the previous scan of the new scan's
// target to the new scan, as stridemap diff shows it; nil when the target
// has no earlier scan.
func (a *app) diffSince(ctx context.Context, scan store.ScanInfo) (*export.Diff, error) {
	s, err := a.readStore(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	scans, err := s.Scans(ctx)
	if err != nil {
		return nil, err
	}
	old, ok := store.Previous(scans, scan)
	if !ok {
		return nil, nil
	}
	drift, err := threats.CompareStored(ctx, s, old.ID, scan.ID)
	if err != nil {
		return nil, err
	}
	return export.BuildDiff(old, scan, drift), nil
}

// clock is a tick's time stamp.
func clock(t time.Time) string { return t.Format("15:04:05") }
