package discover

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzReadOverlay: any bytes read as an overlay give one, or one line
// naming the file; every entry read has a valid pattern on a line of the
// file and data classes in their canonical form, and the overlay written
// back as YAML reads again as the same entries.
func FuzzReadOverlay(f *testing.F) {
	if data, err := os.ReadFile("../docs/examples/overlay.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("version: 1\nelements:\n  - match: \"workload:shop/[a-\"\n"))
	f.Add([]byte("version: 1\nelements:\n  - match: workload:a/b\n    data: [\" PII \", Payment]\n  - data: [x]\n"))
	f.Add([]byte("version: 1\nelements: {match: x}\n"))
	f.Add([]byte("version: 2\n"))
	f.Add([]byte("# nothing\n"))
	f.Add([]byte("[1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "overlay.yaml"
		o, err := ReadOverlay(bytes.NewReader(data), name)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, name+":") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		if o.File != name || o.Version != 1 {
			t.Fatalf("overlay %q version %d", o.File, o.Version)
		}
		// YAML breaks lines at CR LF, LF and a lone CR.
		breaks := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
		lines := bytes.Count(breaks, []byte("\n")) + 1
		for _, e := range o.Elements {
			if e.Match == "" || e.Line < 1 || e.Line > lines {
				t.Fatalf("entry %+v of a %d-line file", e, lines)
			}
			e.Matches("workload:a/b") // a pattern read is one path.Match takes
			for _, d := range e.Data {
				if d != strings.ToLower(strings.TrimSpace(d)) {
					t.Fatalf("data class %q not in canonical form", d)
				}
			}
		}
		out, err := yaml.Marshal(o)
		if err != nil {
			t.Fatalf("overlay read but not written: %v", err)
		}
		again, err := ReadOverlay(bytes.NewReader(out), name)
		if err != nil {
			t.Fatalf("the overlay as written does not read: %v\n%s", err, out)
		}
		if len(again.Elements) != len(o.Elements) {
			t.Fatalf("%d entries written, %d read back", len(o.Elements), len(again.Elements))
		}
		for i, e := range again.Elements {
			w := o.Elements[i]
			if e.Match != w.Match || e.DataStore != w.DataStore || !slices.Equal(e.Data, w.Data) {
				t.Fatalf("entry %d: wrote %+v, read back %+v", i, w, e)
			}
		}
	})
}
