package memlimit_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/internal/memlimit"
	"github.com/stridemap/stridemap/internal/memlimit/memlimittest"
)

// helperEnv makes this test binary, run in a cgroup, apply the limit and
// print what it found and what Go's limit became, instead of testing.
const helperEnv = "STRIDEMAP_MEMLIMIT_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		said, err := memlimit.Apply(os.Getenv)
		fmt.Printf("said=%s\nerr=%v\ngo=%d\n", said, err, debug.SetMemoryLimit(-1))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestApplyInARealCgroup runs a process in a new cgroup with a memory limit,
// in each hierarchy of the host that has the memory controller, and checks
// that it finds the limit and sets Go's soft limit below it; and that
// GOMEMLIMIT still wins. The kernel matrix runs it under cgroup v2 alone
// and under the hybrid layout.
func TestApplyInARealCgroup(t *testing.T) {
	const limit = 300 << 20
	for _, g := range memlimittest.New(t, limit) {
		t.Run(g.Hierarchy, func(t *testing.T) {
			run := func(env ...string) map[string]string {
				t.Helper()
				cmd := g.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(append(os.Environ(), helperEnv+"=1", "GOMEMLIMIT="), env...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				got := map[string]string{}
				for line := range strings.Lines(string(out)) {
					k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
					got[k] = v
				}
				return got
			}

			got := run()
			want := memlimit.Soft(limit)
			if got["err"] != "<nil>" || got["go"] != fmt.Sprint(want) {
				t.Fatalf("in %s limited to %d: Go's limit %s (want %d), error %s", g.Dir, limit, got["go"], want, got["err"])
			}
			if file := filepath.Join(g.Dir, g.LimitFile); !strings.Contains(got["said"], file) || !strings.Contains(got["said"], "300 MiB") {
				t.Errorf("it said %q; want the limit, 300 MiB, and %s", got["said"], file)
			}

			got = run("GOMEMLIMIT=1GiB")
			if got["go"] != fmt.Sprint(1<<30) || !strings.Contains(got["said"], "GOMEMLIMIT=1GiB") {
				t.Errorf("with GOMEMLIMIT=1GiB: Go's limit %s, said %q", got["go"], got["said"])
			}
		})
	}
}
