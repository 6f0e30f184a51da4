package gcfloor

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		floor, live uint64
		want        int
	}{
		{64 * mib, 4 * mib, 1500},    // grows to 4+60
		{64 * mib, 16 * mib, 300},    // grows to 16+48
		{64 * mib, 31 * mib, 106},    // just under half
		{64 * mib, 32 * mib, 100},    // half: GOGC's own pace
		{64 * mib, 500 * mib, 100},   // far above
		{64 * mib, 0, 100},           // unknown
		{0, 4 * mib, DefaultPercent}, // no floor
	} {
		if got := Percent(c.floor, c.live); got != c.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", c.floor/mib, c.live/mib, got, c.want)
		}
	}
}

// TestStart runs in this package's own test process, whose collector it
// changes for good: the steps depend on each other.
func TestStart(t *testing.T) {
	const floor = 64 << 20
	if startedFloor.Load() != 0 {
		t.Skip("an earlier run of this test in this process (-count) started the floor")
	}
	if p := gogc(); p != DefaultPercent {
		t.Skipf("GOGC is %d in this process, not %d", p, DefaultPercent)
	}

	// GOGC's own pace collects several times while a small live heap
	// turns over 32 MiB.
	if n := collectionsWhileAllocating(32 << 20); n < 3 {
		t.Fatalf("with GOGC=100, 32 MiB of garbage took %d collections; the checks below need several", n)
	}

	Start(floor, func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	})
	if p := gogc(); p != DefaultPercent {
		t.Fatalf("with GOGC set by the user, Start changed it to %d", p)
	}

	Start(floor, func(string) string { return "" })
	runtime.GC()
	waitForGOGC(t, func(p int) bool { return p > 1000 }, "above 1000 for a heap of a few MiB")
	if n := collectionsWhileAllocating(32 << 20); n > 1 {
		t.Errorf("with a floor of 64 MiB, 32 MiB of garbage took %d collections, want at most 1", n)
	}

	// Half the floor live: GOGC paces the heap again.
	live := make([][]byte, 0, 40)
	for range 40 {
		live = append(live, make([]byte, 1<<20))
	}
	runtime.GC()
	waitForGOGC(t, func(p int) bool { return p == DefaultPercent }, "back at 100 with 40 MiB live")
	runtime.KeepAlive(live)
}

var sink []byte

// collectionsWhileAllocating allocates n bytes of garbage in 64 KiB pieces
// and returns how many collections ran meanwhile.
func collectionsWhileAllocating(n int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n / (64 << 10) {
		sink = make([]byte, 64<<10)
	}
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

func gogc() int {
	sample := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(sample)
	return int(sample[0].Value.Uint64())
}

// waitForGOGC waits for the finalizer that runs after a collection to set
// GOGC so that ok holds.
func waitForGOGC(t *testing.T, ok func(int) bool, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(gogc()) {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d after a collection, want it %s", gogc(), want)
		}
		time.Sleep(time.Millisecond)
	}
}
