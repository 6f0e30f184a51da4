package export_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/model"
)

// FuzzReadGraphJSON: any bytes read as a graph document give one or one
// line of error; a document read is written back no larger than a fixed
// multiple of its input, and reads again as the same document.
func FuzzReadGraphJSON(f *testing.F) {
	// testdata/fuzz/FuzzReadGraphJSON/demo-excerpt is part of the demo
	// shop's graph: building it here would cost every fuzzing worker a scan.
	for _, g := range []*model.Graph{hostileGraph(), {}} {
		var b bytes.Buffer
		if err := export.WriteGraphJSON(&b, g, &export.ScanRef{ID: 3, Partial: true}); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte(`{"schemaVersion": 99, "nodes": []}`))
	f.Add([]byte(`{"schemaVersion": 1, "nodes": [{"id": "a", "ports": [{"port": 70000}]}], "edges": [{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := export.ReadGraphJSON(bytes.NewReader(data))
		if err != nil {
			var version *export.SchemaVersionError
			if doc != nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("document %v, error %q", doc, err)
			}
			if errors.As(err, &version) && version.Got == model.SchemaVersion {
				t.Fatalf("refused its own schema version: %v", err)
			}
			return
		}
		if doc.SchemaVersion != model.SchemaVersion || doc.Graph == nil {
			t.Fatalf("read %+v", doc)
		}
		var once bytes.Buffer
		if err := export.WriteGraphJSON(&once, doc.Graph, doc.Scan); err != nil {
			if _, unsupported := errors.AsType[*json.UnsupportedValueError](err); !unsupported {
				t.Fatalf("read but not written: %v", err)
			}
			return
		}
		if once.Len() > 64*len(data)+4096 {
			t.Fatalf("%d bytes written back as %d", len(data), once.Len())
		}
		again, err := export.ReadGraphJSON(bytes.NewReader(once.Bytes()))
		if err != nil {
			t.Fatalf("the document as written does not read: %v", err)
		}
		var twice bytes.Buffer
		if err := export.WriteGraphJSON(&twice, again.Graph, again.Scan); err != nil || !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatalf("round trip changed the document (%v):\n%s\n%s", err, once.Bytes(), twice.Bytes())
		}
	})
}
