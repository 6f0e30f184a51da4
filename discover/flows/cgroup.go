//go:build linux

package flows

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stridemap/stridemap/internal/mountinfo"
)

// CgroupPaths turns the cgroup v2 ids the kernel reports into paths under
// the cgroup2 mount ("/kubepods/burstable/pod…/…"), which name the pod.
// On cgroup v2 a cgroup's id is the inode number of its directory.
type CgroupPaths struct {
	mu     sync.Mutex
	root   string
	paths  map[uint64]string
	walked time.Time
}

// CgroupRoot finds where cgroup v2 is mounted (/sys/fs/cgroup, or
// /sys/fs/cgroup/unified on hybrid systems); "" when it is not.
func CgroupRoot() string {
	table, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	return cgroup2Mount(string(table))
}

// cgroup2Mount reads a mountinfo table (proc(5)) and returns the mount
// point of the first cgroup2 file system in it, "" when there is none.
func cgroup2Mount(table string) string {
	for _, m := range mountinfo.Parse(table) {
		if m.FSType == "cgroup2" {
			return m.Point
		}
	}
	return ""
}

// NewCgroupPaths resolves ids under root (see CgroupRoot).
func NewCgroupPaths(root string) *CgroupPaths {
	return &CgroupPaths{root: root, paths: map[uint64]string{}}
}

// Path returns the cgroup's path relative to the mount ("/" for the root),
// or "" when no cgroup has that id, or it is gone. Unknown ids make it walk
// the hierarchy again, at most once a second.
func (c *CgroupPaths) Path(id uint64) string {
	if c == nil || c.root == "" || id == 0 {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.paths[id]; ok {
		return p
	}
	if time.Since(c.walked) < time.Second {
		return ""
	}
	c.walked = time.Now()
	_ = filepath.WalkDir(c.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil // a cgroup removed while walking
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			rel := strings.TrimPrefix(path, c.root)
			if rel == "" {
				rel = "/"
			}
			c.paths[st.Ino] = rel
		}
		return nil
	})
	return c.paths[id]
}

// IsCgroup2 checks that dir is a directory of a cgroup v2 hierarchy.
func IsCgroup2(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		mount := CgroupRoot()
		if mount == "" {
			return fmt.Errorf("%s is not a cgroup v2 directory, and cgroup v2 is not mounted on this machine", dir)
		}
		return fmt.Errorf("%s is not a cgroup v2 directory: cgroup v2 is mounted at %s", dir, mount)
	}
	return nil
}
