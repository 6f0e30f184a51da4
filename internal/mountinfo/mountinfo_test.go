package mountinfo

import (
	"fmt"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	table := `22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:5 master:1 - cgroup2 cgroup2 rw,nsdelegate
35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
40 22 0:30 / /host\040root/cgroup rw,relatime - cgroup2 none rw
not a mount line
41 22 0:31 / /short rw -
`
	want := []Mount{
		{Root: "/", Point: "/sys", FSType: "sysfs", SuperOptions: "rw"},
		{Root: "/", Point: "/sys/fs/cgroup/unified", FSType: "cgroup2", SuperOptions: "rw,nsdelegate"},
		{Root: "/docker/abc", Point: "/sys/fs/cgroup/memory", FSType: "cgroup", SuperOptions: "rw,memory"},
		{Root: "/", Point: "/host root/cgroup", FSType: "cgroup2", SuperOptions: "rw"},
	}
	got := Parse(table)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:  "/a b",
		`/plain`:   "/plain",
		`/tail\04`: `/tail\04`,
		`\134x`:    `\x`,
		`\777`:     `\777`, // not a byte
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHasOption(t *testing.T) {
	if !HasOption("rw,memory", "memory") || HasOption("rw,memory_recursiveprot", "memory") || HasOption("", "memory") {
		t.Error("HasOption matches whole options only")
	}
}

// escape writes a path as the kernel writes it in the table.
func escape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzParseLine checks that a line the kernel would write for any root and
// mount point reads back as them, and that any line reads without panic.
func FuzzParseLine(f *testing.F) {
	f.Add("/", "/sys/fs/cgroup", "cgroup2", "rw")
	f.Add("/docker/a b", "/host root\\x", "cgroup", "rw,memory")
	f.Fuzz(func(t *testing.T, root, point, fsType, super string) {
		ParseLine(root + " " + point + " " + fsType + " " + super)
		if root == "" || point == "" || strings.ContainsAny(root+point, "\x00") || !field(fsType) || !field(super) {
			return
		}
		line := fmt.Sprintf("36 25 0:32 %s %s rw,relatime shared:15 - %s src %s\n", escape(root), escape(point), fsType, super)
		m, ok := ParseLine(line)
		if !ok || m.Root != root || m.Point != point || m.FSType != fsType || m.SuperOptions != super {
			t.Fatalf("ParseLine(%q) = %+v, %v", line, m, ok)
		}
	})
}

// field says whether s can be one field of a line: not empty, not the
// separator, no space or newline.
func field(s string) bool {
	return s != "" && s != "-" && !strings.ContainsAny(s, " \n")
}
