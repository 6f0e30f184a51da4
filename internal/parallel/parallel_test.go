package parallel

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// TestMap: every index is computed exactly once and lands in its place,
// for sizes around the batch and with more cores than batches.
func TestMap(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, n := range []int{0, 1, batch - 1, batch, batch + 1, 4*batch + 3, 10000} {
		calls := make([]atomic.Int32, n)
		out := Map(n, func(i int) int {
			calls[i].Add(1)
			return i * i
		})
		if len(out) != n {
			t.Fatalf("n=%d: %d results", n, len(out))
		}
		for i := range n {
			if out[i] != i*i || calls[i].Load() != 1 {
				t.Fatalf("n=%d: result %d is %d after %d calls; want %d after 1", n, i, out[i], calls[i].Load(), i*i)
			}
		}
	}
}
