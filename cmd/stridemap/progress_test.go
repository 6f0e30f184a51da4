package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestScanShowsItsStagesOnATerminal runs a scan in a real terminal (a
// pseudo-terminal that script(1) opens) and reads what it wrote there:
// the file being read, then each later stage with what it works on, in
// order, each replacing the line before; and the line is cleared before
// the summary. Without a terminal nothing of it is written.
func TestScanShowsItsStagesOnATerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("script(1) is required in CI (util-linux's bsdutils): %v", err)
		}
		t.Skip("skipping: script(1), which opens a terminal for the scan, is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "stridemap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	scan := bin + " --db " + filepath.Join(dir, "s.db") + " scan -f " + demoDir
	cmd := exec.Command(script, "-q", "-e", "-c", scan, "/dev/null")
	cmd.Env = append(os.Environ(), "TERM=xterm")
	done := make(chan struct{})
	time.AfterFunc(time.Minute, func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
		}
	})
	out, err := cmd.Output()
	close(done)
	if err != nil {
		t.Fatalf("%s: %v\n%s", scan, err, out)
	}
	stages := regexp.MustCompile(`\r\x1b\[K(reading \d+: [^\r]*|building the graph of \d+ objects…|evaluating \d+ rules on \d+ elements…|storing the scan…)`)
	var got []string
	for _, m := range stages.FindAllStringSubmatch(string(out), -1) {
		got = append(got, strings.Fields(m[1])[0])
	}
	if want := []string{"reading", "building", "evaluating", "storing"}; strings.Join(compact(got), " ") != strings.Join(want, " ") {
		t.Errorf("the terminal showed the stages %q, want %q in order:\n%q", got, want, out)
	}
	if !strings.Contains(string(out), "\r\x1b[KScan #1 stored") {
		t.Errorf("the progress line was not cleared before the summary:\n%q", out)
	}

	c := newCLI(t)
	if r := c.mustRun("scan", "-f", demoDir); strings.Contains(r.stderr, "building") || strings.Contains(r.stderr, "\x1b") {
		t.Errorf("without a terminal the scan wrote progress:\n%q", r.stderr)
	}
}

// compact drops repeats that follow each other: a stage shown again with
// its seconds, or several files read.
func compact(words []string) []string {
	var out []string
	for _, w := range words {
		if len(out) == 0 || out[len(out)-1] != w {
			out = append(out, w)
		}
	}
	return out
}

// TestProgressCountsAStagesSeconds checks that a stage's line is written
// again with its seconds as it goes on, and no more once it ended.
func TestProgressCountsAStagesSeconds(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "terminal"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &progress{out: f, every: 5 * time.Millisecond}
	p.step("storing the scan")
	time.Sleep(50 * time.Millisecond)
	p.done()
	written := func() string {
		data, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	first := written()
	if !strings.HasPrefix(first, "\r\x1b[Kstoring the scan…\r\x1b[Kstoring the scan… 0s") || !strings.HasSuffix(first, "\r\x1b[K") {
		t.Fatalf("written: %q", first)
	}
	time.Sleep(30 * time.Millisecond)
	if after := written(); after != first {
		t.Errorf("written after done: %q", strings.TrimPrefix(after, first))
	}
}
