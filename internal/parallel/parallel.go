// Package parallel spreads independent per-element work over all cores.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// batch is how many elements a worker takes at once: enough that taking
// them costs nothing next to the work, few enough that the workers finish
// together when some elements cost far more than others.
const batch = 32

// Map computes fn(0) … fn(n-1) on all cores and returns the results in
// index order, so callers that merge them sequentially stay
// deterministic. fn must only read shared state.
func Map[T any](n int, fn func(i int) T) []T {
	out := make([]T, n)
	workers := min(runtime.GOMAXPROCS(0), (n+batch-1)/batch)
	if workers <= 1 {
		for i := range n {
			out[i] = fn(i)
		}
		return out
	}
	// Workers take the next batch from a counter. Handing out elements
	// through a channel cost a wake-up per element, a fifth of the time of
	// the threat catalog's few microseconds per element.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				end := int(next.Add(batch))
				start := end - batch
				if start >= n {
					return
				}
				for i := start; i < min(end, n); i++ {
					out[i] = fn(i)
				}
			}
		})
	}
	wg.Wait()
	return out
}

// window is how many results MapInOrder holds at once: enough batches to
// keep every core busy, few enough that a large input's results are never
// all in memory together.
const window = 64 * batch

// MapInOrder computes fn(0) … fn(n-1) on all cores and calls use with each
// result in index order, on the calling goroutine, a window of results at
// a time. When the results are large and only consumed (turned into edges,
// added to a graph), holding them all at once, as Map does, would add
// their whole size to the peak. fn must only read shared state. use may
// change it, since fn never runs while use does, but then fn must not read
// what use changes: the fn of a later window would see it.
func MapInOrder[T any](n int, fn func(i int) T, use func(i int, v T)) {
	for start := 0; start < n; start += window {
		results := Map(min(window, n-start), func(i int) T { return fn(start + i) })
		for i, v := range results {
			use(start+i, v)
		}
	}
}
