// Package mountinfo reads a mount table in the format of
// /proc/self/mountinfo (proc(5)): which file system is mounted where, and
// which part of it. The observer finds cgroup v2 in it; the memory limit
// finds the cgroup hierarchies a container's limit is in.
package mountinfo

import (
	"strconv"
	"strings"
)

// Mount is one line of the table, the fields used here.
type Mount struct {
	// Root is the directory of the file system mounted ("/" for all of
	// it; a container's own cgroup, say, for a part).
	Root string
	// Point is where it is mounted.
	Point string
	// FSType is the file system's type ("cgroup2", "cgroup", "tmpfs").
	FSType string
	// SuperOptions are the file system's own options ("rw,memory").
	SuperOptions string
}

// Parse reads a table; lines it cannot read are skipped.
func Parse(table string) []Mount {
	var out []Mount
	for line := range strings.Lines(table) {
		if m, ok := ParseLine(line); ok {
			out = append(out, m)
		}
	}
	return out
}

// ParseLine reads "36 25 0:32 / /sys/fs/cgroup/memory rw,relatime
// shared:15 - cgroup cgroup rw,memory": an ID, the parent's, the device,
// the root, the mount point and the mount options, optional fields up to
// "-", then the type, the source and the super options. Fields are
// separated by one space: the kernel escapes any other in a path.
func ParseLine(line string) (Mount, bool) {
	fields := strings.Split(strings.TrimSuffix(line, "\n"), " ")
	sep := -1
	for i, f := range fields {
		if f == "-" && i >= 6 {
			sep = i
			break
		}
	}
	if sep < 0 || len(fields) < sep+4 {
		return Mount{}, false
	}
	return Mount{
		Root:         Unescape(fields[3]),
		Point:        Unescape(fields[4]),
		FSType:       fields[sep+1],
		SuperOptions: fields[sep+3],
	}, true
}

// Unescape undoes the table's octal escapes of space, tab, newline and
// backslash in paths ("\040" for a space).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// HasOption says whether a comma-separated option list holds option.
func HasOption(options, option string) bool {
	for o := range strings.SplitSeq(options, ",") {
		if o == option {
			return true
		}
	}
	return false
}
