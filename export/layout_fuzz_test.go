package export

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// FuzzParseLayout: any bytes read as Graphviz's json0 layout give a layout
// or one line of error; a layout read has finite coordinates (Threat
// Dragon's JSON cannot hold others), at most one box per object of the
// input, each named as an object is, and clusters under the names
// WriteDOT gives them without their "cluster_" prefix.
func FuzzParseLayout(f *testing.F) {
	// testdata/fuzz/FuzzParseLayout/demo is stridemap-render's layout of
	// the demo shop.
	f.Add([]byte(`{"bb":"0,0,100,50","objects":[{"name":"cluster_ns:a","bb":"1,2,30,40"},{"name":"workload:a/b","pos":"10,20","width":"0.5","height":"0.25"}]}`))
	f.Add([]byte(`{"bb":"0,0,NaN,Inf","objects":[{"name":"x","pos":"1e400,-0","width":"-1"}]}`))
	f.Add([]byte(`{"bb":"0,0,NaN,+Inf","objects":[{"name":"n","pos":"1,2","width":"Inf"}]}`))
	f.Add([]byte(`{"bb":"0,0,1","objects":[]}`))
	f.Add([]byte(`{"bb":"0,0,1,1","objects":[{"name":"cluster_x","bb":"a,b,c,d"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseLayout(data)
		if err != nil {
			if l != nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "read Graphviz layout: ") {
				t.Fatalf("layout %v, error %q", l, err)
			}
			return
		}
		var in gvJSON
		if err := json.Unmarshal(data, &in); err != nil {
			t.Fatalf("a layout read from what is not JSON: %v", err)
		}
		names := map[string]bool{}
		for _, o := range in.Objects {
			names[o.Name] = true
		}
		if len(l.Nodes)+len(l.Clusters) > len(in.Objects) {
			t.Fatalf("%d nodes and %d clusters from %d objects", len(l.Nodes), len(l.Clusters), len(in.Objects))
		}
		finite := func(what string, vs ...float64) {
			for _, v := range vs {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s: %v", what, vs)
				}
			}
		}
		finite("bounding box", l.Width, l.Height)
		for id, b := range l.Nodes {
			finite("node "+id, b.X, b.Y, b.Width, b.Height)
			if !names[id] {
				t.Fatalf("node %q is no object's name", id)
			}
		}
		for id, b := range l.Clusters {
			finite("cluster "+id, b.X, b.Y, b.Width, b.Height)
			if !names["cluster_"+id] {
				t.Fatalf("cluster %q is no object's name", id)
			}
		}
		var out bytes.Buffer
		if err := json.NewEncoder(&out).Encode(l); err != nil {
			t.Fatalf("the layout cannot be written as JSON: %v", err)
		}
	})
}
