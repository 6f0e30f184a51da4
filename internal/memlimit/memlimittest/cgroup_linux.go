// Package memlimittest makes real cgroups with a memory limit for tests,
// and runs commands in them: what a container's limit does to a process,
// without a container runtime.
package memlimittest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/internal/mountinfo"
)

// Cgroup is a new cgroup with a memory limit, removed when the test ends.
type Cgroup struct {
	// Hierarchy is "cgroup v2" or "cgroup v1".
	Hierarchy string
	// Dir is its directory.
	Dir string
	// LimitFile is the file that holds its limit.
	LimitFile string
}

// New makes a cgroup limited to limit bytes in each hierarchy of this
// host that has the memory controller (cgroup v2, and the v1 memory
// controller of a hybrid host), as root. Where there is none it skips the
// test with the reason, or fails it when CI is set: in CI it must run.
func New(t *testing.T, limit int64) []*Cgroup {
	t.Helper()
	var groups []*Cgroup
	var why []string
	if os.Geteuid() != 0 {
		why = append(why, "needs root")
	} else {
		table, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mountinfo.Parse(string(table)) {
			var g *Cgroup
			switch {
			case m.FSType == "cgroup2":
				g, err = newV2(m.Point)
			case m.FSType == "cgroup" && mountinfo.HasOption(m.SuperOptions, "memory"):
				g, err = newV1(m.Point)
			default:
				continue
			}
			if err != nil {
				why = append(why, err.Error())
				continue
			}
			t.Cleanup(func() { g.remove(t) })
			if err := os.WriteFile(filepath.Join(g.Dir, g.LimitFile), []byte(fmt.Sprint(limit)), 0o644); err != nil {
				t.Fatalf("%s: set the limit: %v", g.Hierarchy, err)
			}
			if err := g.noSwap(limit); err != nil {
				t.Fatalf("%s: %v", g.Hierarchy, err)
			}
			groups = append(groups, g)
		}
	}
	if len(groups) > 0 && len(why) > 0 {
		t.Logf("not in every hierarchy: %s", strings.Join(why, "; "))
	}
	if len(groups) == 0 {
		msg := "no cgroup with the memory controller could be made: " + strings.Join(why, "; ")
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set)")
		}
		t.Skip("skipping: " + msg)
	}
	return groups
}

// newV2 makes a cgroup under the root of the v2 hierarchy mounted at
// mount, with the memory controller enabled for the root's children.
func newV2(mount string) (*Cgroup, error) {
	controllers, err := os.ReadFile(filepath.Join(mount, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroup v2 at %s: %w", mount, err)
	}
	if !slices.Contains(strings.Fields(string(controllers)), "memory") {
		return nil, fmt.Errorf("cgroup v2 at %s has no memory controller (a hybrid host's v1 has it)", mount)
	}
	if err := os.WriteFile(filepath.Join(mount, "cgroup.subtree_control"), []byte("+memory"), 0o644); err != nil {
		return nil, fmt.Errorf("cgroup v2 at %s: enable memory for its children: %w", mount, err)
	}
	dir, err := makeDir(mount)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	return &Cgroup{Hierarchy: "cgroup v2", Dir: dir, LimitFile: "memory.max"}, nil
}

// newV1 makes a cgroup under the root of the v1 memory hierarchy.
func newV1(mount string) (*Cgroup, error) {
	dir, err := makeDir(mount)
	if err != nil {
		return nil, fmt.Errorf("cgroup v1: %w", err)
	}
	return &Cgroup{Hierarchy: "cgroup v1", Dir: dir, LimitFile: "memory.limit_in_bytes"}, nil
}

func makeDir(parent string) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	dir := filepath.Join(parent, "stridemap-test-"+hex.EncodeToString(b[:]))
	return dir, os.Mkdir(dir, 0o755)
}

// noSwap keeps the cgroup's memory out of swap, where the host has swap
// accounting: a process over the limit is then killed, as in a container
// without swap, rather than swapped out.
func (g *Cgroup) noSwap(limit int64) error {
	file, value := "memory.swap.max", "0"
	if g.Hierarchy == "cgroup v1" {
		file, value = "memory.memsw.limit_in_bytes", fmt.Sprint(limit) // memory and swap together
	}
	err := os.WriteFile(filepath.Join(g.Dir, file), []byte(value), 0o644)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no swap accounting
	}
	if err != nil {
		return fmt.Errorf("keep it out of swap (%s): %w", file, err)
	}
	return nil
}

// Command runs name with args in the cgroup: a shell moves itself into
// it, then becomes the command.
func (g *Cgroup) Command(name string, args ...string) *exec.Cmd {
	script := `echo $$ > "$0" && exec "$@"`
	return exec.Command("/bin/sh", append([]string{"-c", script, filepath.Join(g.Dir, "cgroup.procs"), name}, args...)...)
}

// remove removes the cgroup once its processes are gone: the kernel
// refuses to while the last one is exiting.
func (g *Cgroup) remove(t *testing.T) {
	var err error
	for range 50 {
		if err = os.Remove(g.Dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("remove %s: %v", g.Dir, err)
}
