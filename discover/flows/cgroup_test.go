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

// TestCgroup2Mount finds the cgroup v2 mount on pure v2, hybrid and v1
// hosts, as their /proc/self/mountinfo say.
func TestCgroup2Mount(t *testing.T) {
	for _, tc := range []struct{ name, mountinfo, want string }{
		{"cgroup v2", `22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`, "/sys/fs/cgroup"},
		{"hybrid", `30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:7 - cgroup cgroup rw,memory
`, "/sys/fs/cgroup/unified"},
		{"cgroup v1 only", `32 30 0:28 / /sys/fs/cgroup/systemd rw,relatime shared:6 - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/memory rw,relatime shared:7 - cgroup cgroup rw,memory
`, ""},
		{"escaped path", `40 22 0:30 / /host\040root/cgroup rw,relatime - cgroup2 none rw
`, "/host root/cgroup"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cgroup2Mount(tc.mountinfo); got != tc.want {
				t.Errorf("cgroup2Mount = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzCgroup2Mount: any mountinfo reads without panic, and a mount point
// is only ever found on a cgroup2 line.
func FuzzCgroup2Mount(f *testing.F) {
	f.Add("31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
	f.Add("40 22 0:30 / /a\\040b\\ rw - cgroup2 none rw\n")
	f.Fuzz(func(t *testing.T, mountinfo string) {
		if got := cgroup2Mount(mountinfo); got != "" && !strings.Contains(mountinfo, "cgroup2") {
			t.Errorf("found %q in a table without cgroup2", got)
		}
	})
}
