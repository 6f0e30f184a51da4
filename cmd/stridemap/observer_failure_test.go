package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// observerStderr reads a sample of what a failing stridemap-observer said
// on stderr, from testdata/observer.
func observerStderr(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "observer", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

var (
	asRoot         = privileges{root: true, caps: true}
	asRootNoCaps   = privileges{root: true}
	asUnprivileged = privileges{}
)

// TestObserverFailureIsOneLine: however much a failing observer said, and
// whoever runs it, the failure is one line saying what failed and why,
// with advice that fits (root is never told to use sudo or setcap), and
// the rest of the output is named, not poured out.
func TestObserverFailureIsOneLine(t *testing.T) {
	const bin = "/usr/local/bin/stridemap-observer"
	exit := errors.New("exit status 2")
	for _, tc := range []struct {
		name, sample string
		who          privileges
		want, not    []string
	}{
		{"verifier log, as root", "verifier-refusal.stderr", asRoot,
			[]string{"stridemap-observer failed (exit status 2): load eBPF flow program: kernel 6.1.0-57-amd64 refused by the verifier: R7 invalid mem access 'scalar'", "/tmp/saved.log", "128 lines"},
			[]string{"sudo", "setcap", "needs root", "processed 1187"}},
		{"verifier log on one line, as root", "verifier-one-line.stderr", asRoot,
			[]string{"stridemap-observer failed (exit status 2): load eBPF flow program: load program: permission denied: 0: R1=ctx()", "…", "/tmp/saved.log"},
			[]string{"sudo", "setcap", "needs root", "R7 invalid mem access"}},
		{"verifier log, unprivileged", "verifier-refusal.stderr", asUnprivileged,
			[]string{"refused by the verifier"},
			[]string{"sudo", "setcap"}},
		{"no privileges, unprivileged", "permission-denied.stderr", asUnprivileged,
			[]string{"permission denied", "sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep " + bin},
			[]string{"/tmp/saved.log"}},
		{"no privileges, root without capabilities", "permission-denied.stderr", asRootNoCaps,
			[]string{"permission denied", "root here lacks CAP_BPF and CAP_PERFMON", "container"},
			[]string{"sudo", "setcap"}},
		{"no privileges, root with them", "permission-denied.stderr", asRoot,
			[]string{"permission denied", "security module"},
			[]string{"sudo", "setcap"}},
		{"control characters", "control-characters.stderr", asRoot,
			[]string{`open the flow event ring buffer: \x1b]0;pwned\abad \u202etxt.exe`},
			[]string{"\x1b", "\a", "\u202e"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := observerFailure{bin: bin, exit: exit, output: observerStderr(t, tc.sample)}
			saved := ""
			if f.more() {
				saved = "/tmp/saved.log"
			}
			msg := f.message(tc.who, false, saved)
			if strings.Contains(msg, "\n") || len(msg) > maxReason+400 {
				t.Errorf("not one short line (%d bytes):\n%s", len(msg), msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("lacks %q:\n%s", w, msg)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(msg, n) {
					t.Errorf("says %q:\n%s", n, msg)
				}
			}
		})
	}
}

// TestObserverFailureOutput: the observer's whole output goes to a file
// the line names, or, with -v, above the line; never both, never in it.
func TestObserverFailureOutput(t *testing.T) {
	output := observerStderr(t, "verifier-refusal.stderr")
	f := observerFailure{bin: "stridemap-observer", exit: errors.New("exit status 2"), output: output}

	var stderr bytes.Buffer
	a := newApp(nil, &bytes.Buffer{}, &stderr)
	a.privileges = func() privileges { return asRoot }
	err := a.observerFailed(f)
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != exitUsage || stderr.Len() != 0 {
		t.Fatalf("error %v, stderr %q: want an exit error and nothing else said", err, stderr.String())
	}
	file := regexp.MustCompile(`is in (\S+stridemap-observer-\S+\.log)$`).FindStringSubmatch(exit.message)
	if file == nil {
		t.Fatalf("the line should end naming the file with the whole output: %s", exit.message)
	}
	t.Cleanup(func() { os.Remove(file[1]) })
	if b, err := os.ReadFile(file[1]); err != nil || string(b) != strings.Join(output, "\n")+"\n" {
		t.Errorf("%s should hold the observer's whole output: %v\n%.200s", file[1], err, b)
	}

	a.verbose = true
	err = a.observerFailed(f)
	if !errors.As(err, &exit) || strings.Contains(exit.message, ".log") || strings.Contains(exit.message, "-v") || !strings.Contains(exit.message, "refused by the verifier") {
		t.Errorf("with -v the line names no file: %v", err)
	}
	if got := strings.Count(stderr.String(), "\nobserver: "); got != len(output)-1 || !strings.Contains(stderr.String(), "R7 invalid mem access 'scalar'") {
		t.Errorf("with -v the %d lines of output are printed above the line, got %d:\n%.300s", len(output), got+1, stderr.String())
	}
}

// TestObserveRunsAFailingObserver runs stridemap observe with a stand-in
// observer that fails as a kernel refusing the program makes the real one
// fail: -v is passed to it, and what it said reaches the user as one line,
// or in full with -v.
func TestObserveRunsAFailingObserver(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	fake, said := filepath.Join(dir, "stridemap-observer"), filepath.Join(dir, "stderr")
	writeFile(t, said, strings.Join(observerStderr(t, "verifier-refusal.stderr"), "\n")+"\n")
	writeFile(t, fake, fmt.Sprintf("#!/bin/sh\necho \"$@\" > %q\ncat %q >&2\nexit 2\n", args, said))
	if err := os.Chmod(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run the stand-in observer")
	}
	c := newCLI(t)
	c.mustRun("scan", "-f", demoDir)
	for _, who := range []privileges{asRoot, asUnprivileged} {
		r := c.runApp(func(a *app) { a.privileges = func() privileges { return who } }, "observe", "--observer", fake, "--duration", "1s")
		if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "refused by the verifier") || strings.Contains(r.stderr, "setcap") {
			t.Errorf("as %+v: exit %d, want one line without setcap:\n%s", who, r.code, r.stderr)
		}
		if m := regexp.MustCompile(`is in (\S+\.log)`).FindStringSubmatch(r.stderr); m != nil {
			os.Remove(m[1])
		}
	}
	if b, _ := os.ReadFile(args); !slices.Contains(strings.Fields(string(b)), "-v") {
		t.Errorf("the observer should be run with -v: %s", b)
	}
	r := c.run("", "-v", "observe", "--observer", fake, "--duration", "1s")
	if r.code != exitUsage || !strings.Contains(r.stderr, "observer:     0: R1=ctx() R10=fp0") || strings.Contains(r.stderr, ".log") {
		t.Errorf("with -v the verifier's log is shown: exit %d\n%s", r.code, r.stderr)
	}
	if n := storedScans(t, c); n != 1 {
		t.Errorf("a failed observe stores nothing: %d scans", n)
	}
}
