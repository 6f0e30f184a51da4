// Package memlimit sets Go's soft memory limit from the memory limit of the
// cgroup the process runs in: a container's, a Kubernetes pod's, a systemd
// unit's MemoryMax.
//
// Go's collector lets the heap grow to about twice what is live before it
// collects. A scan whose objects and graph fit a CI container's limit
// could still be killed by the kernel at that doubled peak. With the soft
// limit set below the cgroup's, the collector works harder as the heap
// nears it instead, and the scan finishes.
package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/internal/mountinfo"
)

// Limit is the memory limit of a cgroup of the process.
type Limit struct {
	Bytes int64
	// File is where it was read, as "/sys/fs/cgroup/…/memory.max".
	File string
}

// unlimited is where cgroup v1 reports no limit: any value this large
// (PAGE_COUNTER_MAX pages, rounded) means none.
const unlimited = int64(1) << 62

// Detect returns the lowest memory limit of the process's cgroups and
// their ancestors, in cgroup v2 and in cgroup v1's memory controller (a
// host with systemd's hybrid layout has both); ok is false when none is
// set. root is the file system root the /proc and /sys paths are read
// under: "/" except in tests. A system without them (not Linux) has no
// limit.
func Detect(root string) (limit Limit, ok bool, err error) {
	groups, err := os.ReadFile(path.Join(root, "proc/self/cgroup"))
	if err != nil {
		return Limit{}, false, ignoreMissing(err)
	}
	mounts, err := os.ReadFile(path.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return Limit{}, false, ignoreMissing(err)
	}
	for _, dir := range cgroupDirs(groups, mounts) {
		for _, c := range dir.chain() {
			l, found, err := readLimit(path.Join(root, c.dir), c.file)
			if err != nil {
				return Limit{}, false, err
			}
			if found && (!ok || l.Bytes < limit.Bytes) {
				limit, ok = l, true
				limit.File = path.Join(c.dir, c.file)
			}
		}
	}
	return limit, ok, nil
}

// cgroupDir is the directory of the process's cgroup in one mounted
// hierarchy, and the mount point above which limits are not read.
type cgroupDir struct {
	mount, dir string
	file       string // "memory.max" (v2) or "memory.limit_in_bytes" (v1)
}

type limitFile struct{ dir, file string }

// chain lists the cgroup's directory and its ancestors up to the mount
// point: a limit on any of them applies.
func (c cgroupDir) chain() []limitFile {
	var out []limitFile
	for d := c.dir; ; d = path.Dir(d) {
		out = append(out, limitFile{d, c.file})
		if d == c.mount || d == "/" || d == "." {
			return out
		}
	}
}

// cgroupDirs finds, from /proc/self/cgroup and /proc/self/mountinfo, the
// directories of the process's cgroup v2 and of its cgroup v1 memory
// controller, where those hierarchies are mounted.
func cgroupDirs(groups, mounts []byte) []cgroupDir {
	var v2Path, v1Path string // "" until found, then until mounted
	for _, line := range lines(groups) {
		// hierarchy-ID:controller-list:cgroup-path
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		controllers, p, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(p, "/") {
			continue
		}
		switch {
		case id == "0" && controllers == "":
			v2Path = p
		case mountinfo.HasOption(controllers, "memory"):
			v1Path = p
		}
	}
	var out []cgroupDir
	for _, m := range mountinfo.Parse(string(mounts)) {
		switch {
		case v2Path != "" && m.FSType == "cgroup2":
			if dir, ok := within(m, v2Path); ok {
				out = append(out, cgroupDir{mount: m.Point, dir: dir, file: "memory.max"})
				v2Path = ""
			}
		case v1Path != "" && m.FSType == "cgroup" && mountinfo.HasOption(m.SuperOptions, "memory"):
			if dir, ok := within(m, v1Path); ok {
				out = append(out, cgroupDir{mount: m.Point, dir: dir, file: "memory.limit_in_bytes"})
				v1Path = ""
			}
		}
	}
	return out
}

// within maps a cgroup path to a directory under the mount point. A
// container sees its own cgroup as the root of a mount of it; a path
// outside the mounted part of the hierarchy cannot be read.
func within(m mountinfo.Mount, cgroupPath string) (string, bool) {
	rel := cgroupPath
	if m.Root != "/" {
		if cgroupPath != m.Root && !strings.HasPrefix(cgroupPath, m.Root+"/") {
			return "", false
		}
		rel = strings.TrimPrefix(cgroupPath, m.Root)
	}
	dir := path.Clean(path.Join(m.Point, rel))
	if dir != m.Point && !strings.HasPrefix(dir, strings.TrimSuffix(m.Point, "/")+"/") {
		return "", false // ".." in a path
	}
	return dir, true
}

// ignoreMissing is err, or nil when it says a file does not exist.
func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// readLimit reads one limit file; found is false when it is absent (a
// hierarchy without the memory controller) or says there is no limit.
func readLimit(dir, file string) (Limit, bool, error) {
	data, err := os.ReadFile(path.Join(dir, file))
	if err != nil {
		return Limit{}, false, ignoreMissing(err)
	}
	text := strings.TrimSpace(string(data))
	if text == "max" {
		return Limit{}, false, nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 0 {
		return Limit{}, false, fmt.Errorf("%s: not a memory limit: %q", path.Join(dir, file), text)
	}
	if n >= unlimited {
		return Limit{}, false, nil
	}
	return Limit{Bytes: n}, true, nil
}

// headroom is what the limit leaves outside Go's heap: the binary's pages,
// SQLite's own allocations (it does not use Go's heap), goroutine stacks.
const headroom = 64 << 20

// Soft returns the soft limit for Go's runtime under a cgroup limit: a
// tenth, and at least 64 MiB, below it, but never below half of it.
func Soft(limit int64) int64 {
	soft := limit - max(limit/10, headroom)
	return max(soft, limit/2)
}

// Apply sets Go's soft memory limit from the cgroup limit, unless
// GOMEMLIMIT (read with getenv) already set one. It returns what it did,
// for a log line, or "" when there was nothing to do.
func Apply(getenv func(string) string) (string, error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		return "GOMEMLIMIT=" + v + " is Go's soft memory limit", nil
	}
	limit, ok, err := Detect("/")
	if err != nil || !ok {
		return "", err
	}
	soft := Soft(limit.Bytes)
	debug.SetMemoryLimit(soft)
	return fmt.Sprintf("soft memory limit %s, below the cgroup limit of %s (%s)", mib(soft), mib(limit.Bytes), limit.File), nil
}

// mib renders a size in MiB, as the log line gives it.
func mib(n int64) string {
	return strconv.FormatInt(int64(math.Round(float64(n)/(1<<20))), 10) + " MiB"
}

// lines splits a file into its non-empty lines.
func lines(data []byte) []string {
	var out []string
	for l := range strings.Lines(string(data)) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
