package controls_test

import (
	"encoding/json"
	"testing"

	"github.com/stridemap/stridemap/model/modeltest"
)

// TestBuildIsDeterministic builds with every detector, as a scan does, so
// the order of the controls is checked with that of nodes and edges.
func TestBuildIsDeterministic(t *testing.T) {
	docs := []string{
		modeltest.Deployment("shop", "web", modeltest.Env("A_ADDR", "a:80", "B_ADDR", "b:80", "C_URL", "https://x.example.com")),
		modeltest.Deployment("shop", "a"), modeltest.Service("shop", "a"), modeltest.Deployment("shop", "b"), modeltest.Service("shop", "b"),
	}
	first, _ := json.Marshal(build(t, docs...))
	for i := 0; i < 5; i++ {
		again, _ := json.Marshal(build(t, docs...))
		if string(again) != string(first) {
			t.Fatal("two builds of the same input differ")
		}
	}
}
