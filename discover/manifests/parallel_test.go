package manifests

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// decodeInParallel decodes data as decode does a large stream, with every
// piece its own group handed to one of workers goroutines.
func decodeInParallel(file string, data []byte, workers int) *decoder {
	d := &decoder{file: file, namespace: "default"}
	var pieces []docPiece
	splitDocuments(data, func(data []byte, first int) { pieces = append(pieces, docPiece{data, first}) })
	d.decodeParallel(pieces, workers, 1)
	return d
}

// sameDecoding says how two decodes of one stream differ, or "".
func sameDecoding(got, want *decoder) string {
	if len(got.probs) != len(want.probs) {
		return fmt.Sprintf("%d problems, the other decode %d", len(got.probs), len(want.probs))
	}
	for i := range got.probs {
		if got.probs[i] != want.probs[i] {
			return fmt.Sprintf("problem %d: %s\nthe other decode: %s", i, got.probs[i], want.probs[i])
		}
	}
	if len(got.objs) != len(want.objs) {
		return fmt.Sprintf("%d objects, the other decode %d", len(got.objs), len(want.objs))
	}
	for i := range got.objs {
		if !reflect.DeepEqual(got.objs[i], want.objs[i]) {
			return fmt.Sprintf("object %d (%s) differs from the other decode's %s:\n%#v\n%#v", i, got.objs[i].Ref(), want.objs[i].Ref(), got.objs[i], want.objs[i])
		}
	}
	return ""
}

// TestDecodeLargeStreamInParallel decodes a stream of more than
// parallelBytes, valid objects mixed with every kind of problem, on four
// goroutines and on one: the same objects, lines and problems, in the
// same order.
func TestDecodeLargeStreamInParallel(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 2*parallelBytes; i++ {
		for _, seed := range fuzzSeeds {
			if isBinary([]byte(seed)) {
				continue // would make the whole stream binary
			}
			// Each copy names its objects apart, so an object decoded
			// out of place cannot pass for the one expected there.
			b.WriteString("---\n")
			b.WriteString(strings.ReplaceAll(seed, "name: ", fmt.Sprintf("name: n%d-", i)))
			b.WriteString("\n")
		}
	}
	data := []byte(b.String())

	sequential := decoder{workers: 1}
	parallel := decoder{workers: 4}
	wantObjs, wantProbs := sequential.decode("big.yaml", data, "")
	objs, probs := parallel.decode("big.yaml", data, "")
	if len(wantObjs) < 1000 || len(wantProbs) < 1000 {
		t.Fatalf("the stream decodes to only %d objects and %d problems", len(wantObjs), len(wantProbs))
	}
	if msg := sameDecoding(&decoder{objs: objs, probs: probs}, &decoder{objs: wantObjs, probs: wantProbs}); msg != "" {
		t.Fatal(msg)
	}
	// The same through the piece-by-piece path the fuzz target checks.
	if msg := sameDecoding(decodeInParallel("big.yaml", data, 3), &sequential); msg != "" {
		t.Fatal(msg)
	}
}
