// Package gcfloor lets Go's heap grow to a set size before the collector
// paces it by GOGC's doubling.
//
// With GOGC=100 the collector runs each time the heap doubles what was
// live, starting at 4 MiB. A scan's live heap grows from a few megabytes
// to its graph's size while it reads, and at that pace the collector marks
// the small early heaps a dozen times: at 500 copies of Online Boutique
// the scan collected 14 times, a sixth of its CPU. Its peak comes later,
// while the graph is built next to the decoded objects, so the early
// collections bought no lower peak. A floor lets the heap reach a few tens
// of megabytes before collecting, and does nothing once half of the floor
// is live: larger scans are paced by GOGC as before.
//
// Go has no setting for this (golang/go#23044 asks for one). After each
// collection, a finalizer sets GOGC from what the collection found live.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// DefaultPercent is GOGC's default, which the floor never goes below.
const DefaultPercent = 100

// startHeap is the heap the runtime collects at first under GOGC=100 (its
// heapminimum), which stands in for what is live before any collection.
const startHeap = 4 << 20

var (
	started      sync.Once
	startedFloor atomic.Uint64 // the floor once started, for tests
)

// Start raises GOGC, after each collection, so that the heap may grow to
// floor bytes before the next, but never below DefaultPercent. It is for a
// process whose GOGC the user did not set: it does nothing when getenv
// returns one, and only its first call in a process does anything. It
// says whether the floor is set.
func Start(floor uint64, getenv func(string) string) bool {
	if getenv("GOGC") != "" {
		return false
	}
	started.Do(func() {
		startedFloor.Store(floor)
		debug.SetGCPercent(Percent(floor, startHeap))
		arm(floor)
	})
	return true
}

// sentinel is allocated for its finalizer only, which runs once a
// collection found it unreachable. It holds a pointer so that it is not
// batched with other small objects by the tiny allocator, whose blocks
// can outlive any one of them.
type sentinel struct{ _ *byte }

// arm leaves a sentinel whose finalizer, run after the next collection,
// sets GOGC from the heap that collection found live and arms the next.
func arm(floor uint64) {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		debug.SetGCPercent(Percent(floor, liveHeap()))
		arm(floor)
	})
}

// liveHeap is the heap the last collection marked live.
func liveHeap() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

// Percent is the GOGC at which a heap of live bytes may grow to floor
// bytes before the next collection, and DefaultPercent once live is half
// of floor or more (or unknown).
func Percent(floor, live uint64) int {
	if live == 0 || live >= floor/2 {
		return DefaultPercent
	}
	return int((floor - live) * 100 / live)
}
