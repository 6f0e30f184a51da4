// Package parallel spreads independent per-element work over all cores.
package parallel

import (
	"runtime"
	"sync"
)

// Map computes fn(0) … fn(n-1) on all cores and returns the results in
// index order, so callers that merge them sequentially stay
// deterministic. fn must only read shared state.
func Map[T any](n int, fn func(i int) T) []T {
	out := make([]T, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			out[i] = fn(i)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for start := 0; start < n; start += chunk {
		end := min(start+chunk, n)
		wg.Go(func() {
			for i := start; i < end; i++ {
				out[i] = fn(i)
			}
		})
	}
	wg.Wait()
	return out
}
