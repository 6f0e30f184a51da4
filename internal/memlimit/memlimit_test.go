package memlimit

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// tree writes files under a new root: path → content.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const (
	v2Mount     = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	hybridMount = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
		"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
		"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	v1Unlimited = "9223372036854771712\n"
)

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  Limit
		ok    bool
	}{{
		name: "a container's own cgroup v2, mounted as the root",
		files: map[string]string{
			"proc/self/cgroup":           "0::/\n",
			"proc/self/mountinfo":        v2Mount,
			"sys/fs/cgroup/memory.max":   "536870912\n",
			"sys/fs/cgroup/memory.high":  "max\n",
			"sys/fs/cgroup/cgroup.procs": "1\n",
		},
		want: Limit{Bytes: 512 << 20, File: "/sys/fs/cgroup/memory.max"}, ok: true,
	}, {
		name: "the pod's limit above an unlimited container",
		files: map[string]string{
			"proc/self/cgroup":                                 "0::/kubepods/pod1/ctr\n",
			"proc/self/mountinfo":                              v2Mount,
			"sys/fs/cgroup/kubepods/pod1/ctr/memory.max":       "max\n",
			"sys/fs/cgroup/kubepods/pod1/memory.max":           "1073741824\n",
			"sys/fs/cgroup/kubepods/memory.max":                "2147483648\n",
			"sys/fs/cgroup/kubepods/pod1/other-ctr/memory.max": "1048576\n",
		},
		want: Limit{Bytes: 1 << 30, File: "/sys/fs/cgroup/kubepods/pod1/memory.max"}, ok: true,
	}, {
		name: "hybrid: the v1 memory controller's parent sets it",
		files: map[string]string{
			"proc/self/cgroup":    "8:pids:/\n4:memory:/sandbox/x\n1:cpu:/\n0::/\n",
			"proc/self/mountinfo": hybridMount,
			"sys/fs/cgroup/memory/sandbox/x/memory.limit_in_bytes": v1Unlimited,
			"sys/fs/cgroup/memory/sandbox/memory.limit_in_bytes":   "299999232\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":           v1Unlimited,
		},
		want: Limit{Bytes: 299999232, File: "/sys/fs/cgroup/memory/sandbox/memory.limit_in_bytes"}, ok: true,
	}, {
		name: "v1 without a cgroup namespace: the container's cgroup mounted as the root",
		files: map[string]string{
			"proc/self/cgroup":                           "12:cpu,cpuacct:/docker/abc\n5:memory:/docker/abc\n",
			"proc/self/mountinfo":                        "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n",
		},
		want: Limit{Bytes: 256 << 20, File: "/sys/fs/cgroup/memory/memory.limit_in_bytes"}, ok: true,
	}, {
		name: "v1 and v2 both limit: the lower",
		files: map[string]string{
			"proc/self/cgroup":                             "4:memory:/a\n0::/b\n",
			"proc/self/mountinfo":                          hybridMount,
			"sys/fs/cgroup/memory/a/memory.limit_in_bytes": "400000000\n",
			"sys/fs/cgroup/unified/b/memory.max":           "300000000\n",
		},
		want: Limit{Bytes: 300000000, File: "/sys/fs/cgroup/unified/b/memory.max"}, ok: true,
	}, {
		name: "no limit anywhere",
		files: map[string]string{
			"proc/self/cgroup":                             "4:memory:/a\n0::/\n",
			"proc/self/mountinfo":                          hybridMount,
			"sys/fs/cgroup/memory/a/memory.limit_in_bytes": v1Unlimited,
			"sys/fs/cgroup/memory/memory.limit_in_bytes":   v1Unlimited,
		},
	}, {
		name: "a cgroup outside the mounted part of the hierarchy is not read",
		files: map[string]string{
			"proc/self/cgroup":                           "5:memory:/elsewhere\n",
			"proc/self/mountinfo":                        "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n",
		},
	}, {
		name: "a path that climbs out of the mount is not followed",
		files: map[string]string{
			"proc/self/cgroup":                 "0::/../../..\n",
			"proc/self/mountinfo":              v2Mount,
			"memory.max":                       "1000\n",
			"sys/memory.max":                   "1000\n",
			"sys/fs/memory.max":                "1000\n",
			"sys/fs/cgroup/memory.max":         "max\n",
			"sys/fs/cgroup/cgroup.controllers": "memory\n",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := Detect(tree(t, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok || got != tc.want {
				t.Errorf("Detect = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestDetectWithoutCgroups(t *testing.T) {
	if _, ok, err := Detect(t.TempDir()); ok || err != nil {
		t.Errorf("Detect on a system without /proc/self/cgroup = %v, %v; want no limit and no error", ok, err)
	}
}

func TestDetectRefusesALimitItCannotRead(t *testing.T) {
	root := tree(t, map[string]string{
		"proc/self/cgroup":         "0::/\n",
		"proc/self/mountinfo":      v2Mount,
		"sys/fs/cgroup/memory.max": "lots\n",
	})
	_, _, err := Detect(root)
	if err == nil || !strings.Contains(err.Error(), "sys/fs/cgroup/memory.max") || !strings.Contains(err.Error(), `"lots"`) {
		t.Fatalf("err = %v; want one naming the file and its content", err)
	}
}

func TestSoft(t *testing.T) {
	for _, tc := range []struct{ limit, want int64 }{
		{4 << 30, 4<<30 - (4<<30)/10}, // a tenth below
		{256 << 20, 192 << 20},        // at least 64 MiB below
		{100 << 20, 50 << 20},         // but never below half
	} {
		if got := Soft(tc.limit); got != tc.want {
			t.Errorf("Soft(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}

func TestApplyLeavesGOMEMLIMIT(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	said, err := Apply(func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if after := debug.SetMemoryLimit(-1); after != before {
		t.Errorf("the soft limit changed from %d to %d under GOMEMLIMIT", before, after)
	}
	if !strings.Contains(said, "GOMEMLIMIT=1GiB") {
		t.Errorf("Apply said %q; want it to name GOMEMLIMIT", said)
	}
}

// FuzzCgroupDirs checks that whatever /proc/self/cgroup and mountinfo
// say, the directories read are the mount points or below them, one per
// hierarchy at most.
func FuzzCgroupDirs(f *testing.F) {
	f.Add([]byte("0::/\n"), []byte(v2Mount))
	f.Add([]byte("4:memory:/sandbox/x\n0::/\n"), []byte(hybridMount))
	f.Add([]byte("5:memory:/docker/abc\n"), []byte("35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n"))
	f.Add([]byte("0::/../x\n"), []byte(`30 23 0:26 / /sys/fs/cgroup\040x rw - cgroup2 cgroup2 rw`+"\n"))
	f.Fuzz(func(t *testing.T, groups, mounts []byte) {
		dirs := cgroupDirs(groups, mounts)
		if len(dirs) > 2 {
			t.Fatalf("%d directories; at most one per hierarchy", len(dirs))
		}
		for _, d := range dirs {
			if d.file != "memory.max" && d.file != "memory.limit_in_bytes" {
				t.Fatalf("file %q", d.file)
			}
			chain := d.chain()
			if chain[0].dir != d.dir || chain[len(chain)-1].dir != d.mount && chain[len(chain)-1].dir != "/" && chain[len(chain)-1].dir != "." {
				t.Fatalf("chain %v of %+v does not run from the cgroup to the mount", chain, d)
			}
			if d.dir != d.mount && !strings.HasPrefix(d.dir, strings.TrimSuffix(d.mount, "/")+"/") {
				t.Fatalf("directory %q is outside mount %q", d.dir, d.mount)
			}
		}
	})
}
