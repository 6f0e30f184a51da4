//go:build linux

package flows

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// ownCgroup is this process's cgroup v2 path, from /proc/self/cgroup.
func ownCgroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p
		}
	}
	t.Skip("no cgroup v2 hierarchy")
	return ""
}

func TestCgroupPaths(t *testing.T) {
	root := CgroupRoot()
	if root == "" {
		t.Skip("cgroup v2 is not mounted")
	}
	own := ownCgroup(t)
	var st syscall.Stat_t
	if err := syscall.Stat(strings.TrimSuffix(root+own, "/"), &st); err != nil {
		t.Fatal(err)
	}
	c := NewCgroupPaths(root)
	if got := c.Path(st.Ino); got != own {
		t.Errorf("Path(%d) = %q, want %q", st.Ino, got, own)
	}
	if got := c.Path(1<<62 + 12345); got != "" {
		t.Errorf("unknown id: %q", got)
	}
	var nilPaths *CgroupPaths
	if nilPaths.Path(st.Ino) != "" {
		t.Error("a nil CgroupPaths resolves nothing")
	}
}
