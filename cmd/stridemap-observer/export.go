//go:build linux

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
)

// exportTimeLayout names each export by the UTC time its interval ended;
// names of one node sort by time.
const exportTimeLayout = "20060102T150405Z"

// exporter writes, every interval, what was observed in that interval as
// a complete flow log of its own: flows-NODE-TIME.jsonl in a directory.
// Each file holds only its interval (what the aggregator's Take hands
// over: connections opened, closed or failed, bytes, and listening sockets
// seen since the previous file), so any set of the files merges with
// "stridemap scan --flows" or "observe --flows" without counting a
// connection twice, and a file lost, or deleted by --keep, loses only its
// own interval. Memory holds one interval at a time.
type exporter struct {
	dir    string
	node   string
	prefix string // of this node's file names: "flows-NODE-"
	keep   int    // most files of this node kept; 0 keeps all
	// kernel and missing are recorded in every file's summary: what the
	// observer could not see on this kernel.
	kernel  string
	missing []flows.Missing

	since    time.Time // the interval's start: the previous export
	stats    flows.Stats
	overflow uint64
	lastName string
	// pending are intervals taken but not yet written (the disk was full,
	// say): the next export writes them first, oldest first.
	pending []interval
}

// interval is one interval's flow log, ready to write.
type interval struct {
	end       time.Time
	flows     []flows.Flow
	listeners []flows.Listener
	summary   flows.Summary
}

// maxPending bounds the intervals kept while exports fail, so that a
// broken disk does not grow the observer without end.
const maxPending = 12

func newExporter(dir, node string, keep int, started time.Time) *exporter {
	return &exporter{dir: dir, node: node, prefix: "flows-" + fileNode(node) + "-", keep: keep, since: started}
}

// fileNode makes a node name safe in a file name.
func fileNode(node string) string {
	if node == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, node)
}

// export writes the interval that ends now — fl and ls are its flows and
// listeners (Node and Cgroup filled in), stats and agg the counters so far
// — after any intervals earlier exports could not write, and removes the
// files beyond --keep. It returns the paths written. An interval not
// written is kept for the next export, up to maxPending of them; beyond,
// the oldest is given up and the error says so.
func (e *exporter) export(now time.Time, fl []flows.Flow, ls []flows.Listener, stats flows.Stats, agg flows.AggregatorStats) ([]string, error) {
	s := flows.Stats{Events: stats.Events - e.stats.Events, DecodeErrors: stats.DecodeErrors - e.stats.DecodeErrors,
		Dropped: stats.Dropped - e.stats.Dropped, Unattributed: stats.Unattributed - e.stats.Unattributed,
		Skipped: stats.Skipped - e.stats.Skipped, Reported: stats.Reported - e.stats.Reported}
	d := flows.AggregatorStats{Overflow: agg.Overflow - e.overflow, Flows: len(fl), Listeners: len(ls)}
	summary := flows.NewSummary(e.node, e.since, now.Sub(e.since), s, d)
	summary.Kernel, summary.Missing = e.kernel, e.missing
	e.pending = append(e.pending, interval{end: now, flows: fl, listeners: ls, summary: summary})
	e.since, e.stats, e.overflow = now, stats, agg.Overflow

	var written []string
	for len(e.pending) > 0 {
		i := e.pending[0]
		path, err := e.write(i.end, i.flows, i.listeners, i.summary)
		if err != nil {
			if len(e.pending) > maxPending {
				e.pending = e.pending[1:]
				err = fmt.Errorf("%w; the flows observed until %s are lost", err, e.pending[0].summary.Started.Format(time.RFC3339))
			}
			return written, err
		}
		written = append(written, path)
		e.pending = e.pending[1:]
	}
	return written, e.prune()
}

// write writes a flow log atomically: into a temporary file that is
// synced, then renamed to its name, then the directory synced, so a
// crash leaves a whole file or none, and collectors never see half of one.
func (e *exporter) write(now time.Time, fl []flows.Flow, ls []flows.Listener, summary flows.Summary) (string, error) {
	name := e.name(now)
	f, err := os.CreateTemp(e.dir, "."+e.prefix+"*.tmp")
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	defer os.Remove(f.Name()) // gone once renamed
	err = errors.Join(f.Chmod(0o644), flows.WriteLog(f, fl, ls, summary), f.Sync())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("export %s: %w", name, err)
	}
	path := filepath.Join(e.dir, name)
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	e.lastName = name
	if err := syncDir(e.dir); err != nil {
		return "", fmt.Errorf("export %s: %w", path, err)
	}
	return path, nil
}

// name is the file name for an interval that ends at t, never one already
// there: a later second is taken instead.
func (e *exporter) name(t time.Time) string {
	t = t.UTC().Truncate(time.Second)
	for {
		name := e.prefix + t.Format(exportTimeLayout) + ".jsonl"
		if _, err := os.Lstat(filepath.Join(e.dir, name)); name > e.lastName && errors.Is(err, fs.ErrNotExist) {
			return name
		}
		t = t.Add(time.Second)
	}
}

// files lists this node's exports, oldest first, and the temporary files
// an interrupted export left.
func (e *exporter) files() (exports, stale []string, err error) {
	entries, err := os.ReadDir(e.dir)
	if err != nil {
		return nil, nil, err
	}
	export := regexp.MustCompile(`^` + regexp.QuoteMeta(e.prefix) + `[0-9]{8}T[0-9]{6}Z\.jsonl$`)
	temp := regexp.MustCompile(`^\.` + regexp.QuoteMeta(e.prefix) + `[0-9]+\.tmp$`)
	for _, en := range entries {
		switch n := en.Name(); {
		case en.Type().IsRegular() && export.MatchString(n):
			exports = append(exports, n)
		case en.Type().IsRegular() && temp.MatchString(n):
			stale = append(stale, n)
		}
	}
	slices.Sort(exports)
	return exports, stale, nil
}

// prune removes this node's oldest exports beyond --keep.
func (e *exporter) prune() error {
	if e.keep <= 0 {
		return nil
	}
	exports, _, err := e.files()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var errs []error
	for len(exports) > e.keep {
		errs = append(errs, os.Remove(filepath.Join(e.dir, exports[0])))
		exports = exports[1:]
	}
	return errors.Join(errs...)
}

// start checks, as the user the observer now runs as, that it can write
// the directory, and removes the temporary files of an export a crash
// interrupted: better now than at the first export, minutes later.
func (e *exporter) start() error {
	_, stale, err := e.files()
	if err != nil {
		return fmt.Errorf("export directory: %w", err)
	}
	for _, n := range stale {
		_ = os.Remove(filepath.Join(e.dir, n))
	}
	f, err := os.CreateTemp(e.dir, "."+e.prefix+"*.tmp")
	if err != nil {
		return fmt.Errorf("export directory %s is not writable by uid %d: %w", e.dir, os.Geteuid(), err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
