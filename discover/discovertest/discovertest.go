// Package discovertest builds inventories from YAML written inline in
// tests, the way net/http/httptest builds servers, so tests of the model,
// the threat engine and the exporters need no fixture files on disk.
package discovertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/discover/manifests"
)

// Inventory writes files (name → content; names may contain slashes) to a
// fresh temporary directory and collects that directory. Locations in the
// result name the files by their path under t.TempDir(). The test fails if
// Collect returns an error; Problems are left for the test to check.
func Inventory(t testing.TB, files map[string]string) *discover.Inventory {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("discovertest: %v", err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatalf("discovertest: %v", err)
		}
	}
	inv, err := manifests.Collect(context.Background(), manifests.Request{Paths: []string{dir}})
	if err != nil {
		t.Fatalf("discovertest: collect %s: %v", dir, err)
	}
	return inv
}

// Objects decodes one YAML stream, as if read from a file named "test.yaml",
// into objects in the "default" namespace. The test fails if the stream has
// any error Problem, so a typo in a fixture cannot pass silently.
func Objects(t testing.TB, yaml string) []*discover.Object {
	t.Helper()
	objs, probs := manifests.Decode("test.yaml", []byte(yaml), "")
	for _, p := range probs {
		if p.Severity == discover.SeverityError {
			t.Fatalf("discovertest: %s", p)
		}
	}
	return objs
}
