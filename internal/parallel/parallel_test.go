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

// TestMapInOrder: every index is computed once and used once, in order,
// across windows, and fn never runs while use does.
func TestMapInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, n := range []int{0, 1, window - 1, window, window + 1, 3*window + 5} {
		calls := make([]atomic.Int32, n)
		var using atomic.Bool
		next := 0
		MapInOrder(n, func(i int) int {
			if using.Load() {
				t.Errorf("n=%d: fn(%d) ran while use did", n, i)
			}
			calls[i].Add(1)
			return -i
		}, func(i, v int) {
			using.Store(true)
			defer using.Store(false)
			if i != next || v != -i {
				t.Fatalf("n=%d: used %d (value %d), want %d (value %d)", n, i, v, next, -next)
			}
			next++
		})
		if next != n {
			t.Fatalf("n=%d: %d results used", n, next)
		}
		for i := range n {
			if calls[i].Load() != 1 {
				t.Fatalf("n=%d: fn(%d) called %d times", n, i, calls[i].Load())
			}
		}
	}
}
