package bpf

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedFilesUpToDate runs gen.go's go:generate line into a
// temporary directory and compares the result with the committed files, so
// an edit to flow.c that was not regenerated fails CI. It needs clang,
// llvm-strip and libbpf's headers (.ci/deps.sh); outside CI it
// skips when clang is missing.
func TestGeneratedFilesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the eBPF program")
	}
	clang, err := exec.LookPath("clang")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("clang not installed; the drift check runs in CI (.ci/deps.sh)")
		}
		t.Fatal("clang is needed to check the generated eBPF files: run .ci/deps.sh")
	}
	args := generateArgs(t)
	// Read the inputs here too: go test's cache then knows the result
	// depends on them (bpf2go reads them in another process).
	for _, input := range []string{"flow.c", "vmlinux.h"} {
		if _, err := os.ReadFile(input); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	// bpf2go's own flags come before the identifier; -output-dir redirects
	// the files without changing what is compiled.
	cmdArgs := append([]string{"tool", "bpf2go", "-output-dir", out}, args[2:]...)
	cmd := exec.Command("go", cmdArgs...)
	cmd.Env = append(os.Environ(), "GOPACKAGE=bpf")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmdArgs, " "), err, msg)
	}
	version, _ := exec.Command(clang, "--version").Output()
	firstLine, _, _ := strings.Cut(string(version), "\n")
	for _, name := range []string{"flow_bpfel.go", "flow_bpfel.o"} {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what flow.c and gen.go generate now: run go generate ./discover/flows/bpf and commit the result (compiler here: %s)", name, firstLine)
		}
	}
}

// generateArgs returns the go:generate line of gen.go, split into words.
func generateArgs(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("gen.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "//go:generate "); ok {
			args := strings.Fields(line)
			if len(args) < 3 || args[0] != "go" || args[1] != "tool" || args[2] != "bpf2go" {
				t.Fatalf("gen.go: go:generate should run go tool bpf2go: %q", line)
			}
			return args[1:] // "tool bpf2go …"
		}
	}
	t.Fatal("gen.go has no go:generate line")
	return nil
}
