package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stridemap/stridemap/discover/discovertest"
)

// runHistory measures how the store grows with history (issue 13): one
// scan of copies of Online Boutique, then rescans re-scans, each after one
// change (a ConfigMap added to one copy). Without sharing, every re-scan
// would add a whole scan's rows, the size of the first; with it, only what
// changed and the scan's list of where its elements sit. Then a prune down
// to 10 scans, timed, with the space it handed back. Before the prune: the
// diff of the last two scans and watch ticks on the unchanged input.
func runHistory(bin string, base []byte, copies, rescans int, work string) error {
	in, err := discovertest.WriteBoutiqueCopies(filepath.Join(work, "history-input"), base, copies)
	if err != nil {
		return err
	}
	db := filepath.Join(work, "history.db")
	var lastScan time.Duration
	scan := func() (int64, error) {
		start := time.Now()
		out, err := exec.Command(bin, "--db", db, "scan", "-f", in.Dir).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s scan: %w\n%s", bin, err, out)
		}
		lastScan = time.Since(start)
		info, err := os.Stat(db)
		if err != nil {
			return 0, err
		}
		return info.Size(), nil
	}
	first, err := scan()
	if err != nil {
		return err
	}
	size := first
	for i := range rescans {
		ns := fmt.Sprintf("shop-%03d", i%copies)
		f, err := os.OpenFile(filepath.Join(in.Dir, ns+".yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(f, "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: change-%d\n  namespace: %s\ndata:\n  k: v\n", i, ns)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if size, err = scan(); err != nil {
			return err
		}
	}
	fmt.Printf("\nhistory: %d copies, 1 scan + %d re-scans with one change each\n", copies, rescans)
	fmt.Printf("  bytes per scan, every row stored per scan (the first scan): %d (%.1f MiB)\n", first, float64(first)/(1<<20))
	if rescans > 0 {
		per := (size - first) / int64(rescans)
		fmt.Printf("  bytes per re-scan, rows shared between scans:               %d (%.2f MiB); store %.1f MiB after %d scans\n",
			per, float64(per)/(1<<20), float64(size)/(1<<20), rescans+1)
	}
	driftErr := measureDrift(bin, db, in.Dir, copies, lastScan)
	start := time.Now()
	out, err := exec.Command(bin, "--db", db, "scans", "prune", "--keep", "10").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s scans prune: %w\n%s", bin, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fmt.Printf("  prune --keep 10: %s in %s\n", lines[len(lines)-1], time.Since(start).Round(time.Millisecond))
	return driftErr
}

// Targets of issue 13 for the largest input: a diff of two scans, and a
// watch tick on an unchanged input against one scan's time.
const (
	targetDiff      = time.Second
	targetTickRatio = 1.25
	watchTicks      = 3
)

// measureDrift times `stridemap diff` of the store's last two scans (the
// median of three) and `stridemap watch` ticking on the unchanged input,
// which must store nothing; scanTime is one scan of that input.
func measureDrift(bin, db, dir string, copies int, scanTime time.Duration) error {
	var diffs []time.Duration
	for range 3 {
		start := time.Now()
		if out, err := exec.Command(bin, "--db", db, "diff", "--format", "json", "-o", os.DevNull).CombinedOutput(); err != nil {
			return fmt.Errorf("%s diff: %w\n%s", bin, err, out)
		}
		diffs = append(diffs, time.Since(start))
	}
	scansBefore, err := countScans(bin, db)
	if err != nil {
		return err
	}
	start := time.Now()
	out, err := exec.Command(bin, "--db", db, "watch", "-f", dir, "--every", "1ms", "--ticks", fmt.Sprint(watchTicks)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s watch: %w\n%s", bin, err, out)
	}
	tick := time.Since(start) / watchTicks
	scansAfter, err := countScans(bin, db)
	if err != nil {
		return err
	}
	ratio := tick.Seconds() / scanTime.Seconds()
	diff := median(diffs)
	fmt.Printf("  diff of the last two %d-copy scans: %s (target < %s): %s\n", copies, diff.Round(time.Millisecond), targetDiff, verdict(diff < targetDiff))
	fmt.Printf("  watch, %d ticks on the unchanged input: %s per tick, %.2f× one scan (%s; target ≤ %.2f×), %d scans added (target 0): %s\n",
		watchTicks, tick.Round(time.Millisecond), ratio, scanTime.Round(time.Millisecond), targetTickRatio, scansAfter-scansBefore,
		verdict(ratio <= targetTickRatio && scansAfter == scansBefore))
	if diff >= targetDiff || ratio > targetTickRatio || scansAfter != scansBefore {
		return fmt.Errorf("drift targets missed")
	}
	return nil
}

// countScans is the number of scans in the store, from `stridemap scans`.
func countScans(bin, db string) (int, error) {
	out, err := exec.Command(bin, "--db", db, "scans", "--format", "json").Output()
	if err != nil {
		return 0, fmt.Errorf("%s scans: %w", bin, err)
	}
	var scans []json.RawMessage
	if err := json.Unmarshal(out, &scans); err != nil {
		return 0, fmt.Errorf("%s scans --format json: %w", bin, err)
	}
	return len(scans), nil
}
