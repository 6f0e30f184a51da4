package discover

import "testing"

func TestLineOf(t *testing.T) {
	var b LineIndexBuilder
	b.Add("spec", 5)
	b.Add("spec.containers[0]", 7)
	b.Add(PathKey("metadata.annotations", "example.com/x"), 3)
	b.Add("metadata.annotations", 2)
	b.AddHashed(RootPath.ExtendString("spec.containers[0].image"), 8)
	b.Add("spec", 99) // a repeated path keeps its first line
	o := &Object{Location: Location{File: "f.yaml", Line: 1}, Lines: b.Build()}
	tests := []struct {
		path string
		want int
	}{
		{"spec", 5},
		{"spec.containers[0].image", 8},
		{"spec.containers[0].env[3].value", 7},
		{"spec.containers[1]", 5},
		{"metadata.annotations[example.com/x]", 3},
		{"metadata.annotations[example.com/y]", 2},
		{"status.phase", 1},
		{"", 1},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if got := o.LineOf(tc.path); got != tc.want {
				t.Errorf("LineOf(%q) = %d, want %d", tc.path, got, tc.want)
			}
		})
	}
	if got := o.At("spec.containers[0].image").String(); got != "f.yaml:8" {
		t.Errorf("At = %s", got)
	}
}

func TestPathKey(t *testing.T) {
	tests := []struct{ parent, key, want string }{
		{"", "spec", "spec"},
		{"metadata", "name", "metadata.name"},
		{"metadata.labels", "app.kubernetes.io/name", "metadata.labels[app.kubernetes.io/name]"},
		{"data", "", "data[]"},
		{"data", "a[0]", "data[a[0]]"},
	}
	for _, tc := range tests {
		if got := PathKey(tc.parent, tc.key); got != tc.want {
			t.Errorf("PathKey(%q, %q) = %q, want %q", tc.parent, tc.key, got, tc.want)
		}
	}
	if got := PathIndex("spec.containers", 2); got != "spec.containers[2]" {
		t.Errorf("PathIndex = %q", got)
	}
}

// TestLocationStaysOneLine: a file name with a control character is
// quoted; any other is written as it is.
func TestLocationStaysOneLine(t *testing.T) {
	for loc, want := range map[Location]string{
		{File: "a/b.yaml", Line: 3}:       "a/b.yaml:3",
		{File: "-"}:                       "-",
		{File: "dir/é b.yaml", Line: 1}:   "dir/é b.yaml:1",
		{File: "a\nb.yaml", Line: 2}:      `"a\nb.yaml":2`,
		{File: "a\x1b[2Jb.yaml"}:          `"a\x1b[2Jb.yaml"`,
		{File: "tab\there.yaml", Line: 9}: `"tab\there.yaml":9`,
	} {
		if got := loc.String(); got != want {
			t.Errorf("%#v: %q, want %q", loc, got, want)
		}
	}
}

// TestPathHashExtends: extending a path's hash segment by segment gives
// the hash of the whole path, so a walk that hashes as it goes down
// indexes the same keys as one that hashes each path.
func TestPathHashExtends(t *testing.T) {
	paths := []string{"", "spec", "spec.template.spec.containers[0].env[3].value", "metadata.annotations[example.com/x]", "data.é|"}
	for _, path := range paths {
		for cut := range len(path) + 1 {
			h := RootPath.ExtendString(path[:cut]).Extend([]byte(path[cut:]))
			if uint64(h) != hashPath(path) {
				t.Errorf("%q cut at %d: %x, want %x", path, cut, h, hashPath(path))
			}
		}
	}
}

// TestLineIndexKeepsFirstLine: among many paths, each repeated path keeps
// the line it was first added with, in whatever order the keys sort.
func TestLineIndexKeepsFirstLine(t *testing.T) {
	var b LineIndexBuilder
	want := map[string]int{}
	for i := range 300 {
		path := PathIndex("spec.containers", i%37)
		if _, seen := want[path]; !seen {
			want[path] = i + 1
		}
		b.AddHashed(RootPath.ExtendString(path), i+1)
	}
	idx := b.Build()
	if idx.Len() != len(want) {
		t.Errorf("%d paths indexed, want %d", idx.Len(), len(want))
	}
	for path, line := range want {
		if got, ok := idx.Lookup(path); !ok || got != line {
			t.Errorf("Lookup(%q) = %d, %v; want %d", path, got, ok, line)
		}
	}
}
