package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/stridemap/stridemap/discover/discovertest"
)

// targetHugeRSS is the performance issue's budget for a scan of 313,000
// objects (8,700 copies) in one file of about 200 MB.
const targetHugeRSS = 1536 << 20

// runHuge scans copies of Online Boutique concatenated into one file, as
// a whole cluster's export would be, once with the catalog, and prints its
// time and peak memory against targetHugeRSS.
func runHuge(bin string, base []byte, copies int, work string) error {
	in, err := discovertest.WriteBoutiqueCopies(filepath.Join(work, fmt.Sprintf("copies-%d", copies)), base, copies)
	if err != nil {
		return err
	}
	input := filepath.Join(work, fmt.Sprintf("all-%d.yaml", copies))
	size, err := concatenate(in.Dir, input)
	if err != nil {
		return err
	}
	// The copies are 200 MB again; only the one file is scanned.
	if err := os.RemoveAll(in.Dir); err != nil {
		return err
	}
	maxSize := fmt.Sprint(size + 1<<20)
	u, err := measureCommand(exec.Command(bin, "--db", filepath.Join(work, fmt.Sprintf("bench-huge-%d.db", copies)), "scan", "--max-file-size", maxSize, "-f", input))
	if err != nil {
		return err
	}
	fmt.Printf("\n%d copies in one file (%d objects, %.0f MB), one full scan: wall %s, CPU %s, peak %.2f GiB\n",
		copies, in.Objects, float64(size)/1e6, u.wall.Round(100*time.Millisecond), u.cpu.Round(100*time.Millisecond), float64(u.rss)/(1<<30))
	met := u.rss < targetHugeRSS
	fmt.Printf("target at %d objects: peak under %.1f GiB: %s\n", in.Objects, float64(targetHugeRSS)/(1<<30), verdict(met))
	if !met {
		return fmt.Errorf("%d objects: performance target missed", in.Objects)
	}
	return nil
}

// concatenate writes the YAML files of dir into one multi-document file,
// in name order, and returns its size.
func concatenate(dir, out string) (int64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("no input in %s", dir)
	}
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	var size int64
	for _, name := range files {
		n, err := appendDocument(f, name)
		size += n
		if err != nil {
			f.Close()
			return 0, err
		}
	}
	return size, f.Close()
}

// appendDocument writes one file to w as a document of its own.
func appendDocument(w io.Writer, name string) (int64, error) {
	in, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	n, err := io.WriteString(w, "---\n")
	if err != nil {
		return int64(n), err
	}
	copied, err := io.Copy(w, in)
	if err != nil {
		return int64(n) + copied, err
	}
	m, err := io.WriteString(w, "\n")
	return int64(n+m) + copied, err
}
