package main

import (
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
// to 10 scans, timed, with the space it handed back.
func runHistory(bin string, base []byte, copies, rescans int, work string) error {
	in, err := discovertest.WriteBoutiqueCopies(filepath.Join(work, "history-input"), base, copies)
	if err != nil {
		return err
	}
	db := filepath.Join(work, "history.db")
	scan := func() (int64, error) {
		out, err := exec.Command(bin, "--db", db, "scan", "-f", in.Dir).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("%s scan: %w\n%s", bin, err, out)
		}
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
	start := time.Now()
	out, err := exec.Command(bin, "--db", db, "scans", "prune", "--keep", "10").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s scans prune: %w\n%s", bin, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fmt.Printf("  prune --keep 10: %s in %s\n", lines[len(lines)-1], time.Since(start).Round(time.Millisecond))
	return nil
}
