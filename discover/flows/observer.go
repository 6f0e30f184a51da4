//go:build linux

package flows

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/stridemap/stridemap/discover/flows/bpf"
)

// Config tunes an Observer.
type Config struct {
	// RingBufferBytes sizes the kernel's event queue: a power of two and a
	// multiple of the page size; 0 means 8 MiB. A bigger queue absorbs
	// longer bursts before events are dropped.
	RingBufferBytes uint32
	// Cgroup, when set, is a cgroup v2 directory (see CgroupRoot) whose
	// sockets' first payload bytes are peeked at to classify each
	// connection's protocol and encryption. It needs CAP_NET_ADMIN; when
	// it is "" or attaching fails, bpf.ProtocolPeek is missing.
	Cgroup string
	// MaxFlows bounds the kernel's table of flows whose connections it
	// counts in place; 0 means 65,536. Beyond it, new flows' connections
	// are reported one by one, which costs more but loses nothing.
	MaxFlows uint32
	// Without are optional parts not to load (bpf.Options.Without).
	Without []bpf.Part
}

// pollInterval is how long queued events may wait for the reader: the
// program only wakes it early when much is queued (flow.c, WAKEUP_BYTES).
const pollInterval = 100 * time.Millisecond

// countsInterval is how often Run reads the kernel's flows map and hands
// what it counted over as Counted events.
const countsInterval = time.Second

// flowIdle is how long a flow in the kernel's map may go without a
// connection before it is removed, which keeps the bounded map from
// filling up with flows long gone on an observer that runs for days.
const flowIdle = time.Minute

// Observer runs the eBPF program and reads its events.
type Observer struct {
	objs   *bpf.Objects
	reader *ringbuf.Reader
	// boot is the wall-clock time of boot, to turn CLOCK_BOOTTIME stamps
	// into times.
	boot         time.Time
	events       atomic.Uint64
	decodeErrors atomic.Uint64
	// handed are the kernel's counts of each flow as last handed over, so
	// that Counted events carry only what was added since.
	handed map[bpf.FlowKey]bpf.FlowCounts
	idle   time.Duration // flowIdle; shorter in tests
}

// Open loads and attaches the programs: from then on every TCP connection
// on the machine is queued for Run. It needs root, or CAP_BPF and
// CAP_PERFMON; the error wraps bpf.ErrLoad when the required program could
// not load. An optional part that cannot load or attach is left out, and
// Missing says so.
func Open(cfg Config) (*Observer, error) {
	objs, err := bpf.Load(bpf.Options{RingBufferBytes: cfg.RingBufferBytes, MaxFlows: cfg.MaxFlows, Without: cfg.Without})
	if err != nil {
		return nil, err
	}
	reader, err := ringbuf.NewReader(objs.Events())
	if err != nil {
		objs.Close()
		return nil, fmt.Errorf("open the flow event ring buffer: %w", err)
	}
	o := &Observer{objs: objs, reader: reader, boot: bootTime(), handed: map[bpf.FlowKey]bpf.FlowCounts{}, idle: flowIdle}
	if err := objs.Attach(); err != nil {
		o.Close()
		return nil, err
	}
	// A failure costs protocol classification only: Missing tells.
	_ = objs.AttachCgroup(cfg.Cgroup)
	return o, nil
}

// Missing are the optional parts not at work on this kernel, and why, in
// bpf.Parts order.
func (o *Observer) Missing() []Missing {
	var out []Missing
	for _, s := range o.objs.Parts() {
		if s.Err != nil {
			out = append(out, Missing{Part: string(s.Part), Reason: bpf.Reason(s.Err)})
		}
	}
	return out
}

// bootTime is when the machine booted on the wall clock.
func bootTime() time.Time {
	var ts unix.Timespec
	now := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return now // times will be off, but ordered
	}
	return now.Add(-time.Duration(ts.Nano()))
}

// Run decodes events, stamps their time and hands each to handle, on the
// calling goroutine, until ctx is done or the Observer is closed; every
// second, and last, it also hands over a Counted event for each flow with
// connections the kernel counted in place. When ctx is done it detaches
// the program, hands over the events still queued and the final counts,
// and returns nil; Close makes it return nil at once. Records that do not
// decode are counted in Stats and skipped.
func (o *Observer) Run(ctx context.Context, handle func(Event)) error {
	stop := context.AfterFunc(ctx, func() {
		// After Detach no program run is in flight, so the flush below
		// delivers every event there will ever be.
		_ = o.objs.Detach()
		_ = o.reader.Flush()
	})
	defer stop()
	// The program wakes the reader only when much is queued; between, the
	// reader polls.
	o.reader.SetDeadline(time.Now().Add(pollInterval))
	nextCounts := time.Now().Add(countsInterval)
	flushed := false
	var rec ringbuf.Record
	for {
		err := o.reader.ReadInto(&rec)
		if now := time.Now(); now.After(nextCounts) {
			if err := o.handCounts(handle); err != nil {
				return err
			}
			nextCounts = now.Add(countsInterval)
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			o.reader.SetDeadline(time.Now().Add(pollInterval))
			continue
		case errors.Is(err, ringbuf.ErrClosed):
			if flushed {
				// Stopped, not closed: the program is detached and the
				// counts final.
				return o.handCounts(handle)
			}
			return nil
		case errors.Is(err, ringbuf.ErrFlushed):
			// Only the stop above flushes: everything is delivered.
			flushed = true
			o.reader.Close()
			continue
		default:
			return fmt.Errorf("read flow events: %w", err)
		}
		o.events.Add(1)
		e, err := Decode(rec.RawSample)
		if err != nil {
			o.decodeErrors.Add(1)
			continue
		}
		e.Time = o.boot.Add(e.Boot)
		handle(e)
	}
}

// handCounts hands over what the kernel counted since the last time, flow
// by flow, and removes flows idle for flowIdle from its map.
func (o *Observer) handCounts(handle func(Event)) error {
	now := bootNow()
	var idle []bpf.FlowKey
	err := o.objs.ReadFlows(func(k *bpf.FlowKey, c *bpf.FlowCounts) {
		o.handAdded(handle, k, c)
		if now-time.Duration(c.LastNs) > o.idle {
			idle = append(idle, *k)
		}
	})
	for _, k := range idle {
		c, err := o.objs.RemoveFlow(&k)
		if err != nil {
			continue // removed already
		}
		o.handAdded(handle, &k, &c) // what came between the read and the removal
		delete(o.handed, k)
	}
	return err
}

// handAdded hands over a Counted event for what c, a flow's counts in the
// kernel, adds to what was handed before.
func (o *Observer) handAdded(handle func(Event), k *bpf.FlowKey, c *bpf.FlowCounts) {
	prev, seen := o.handed[*k]
	added := *c
	added.Opened -= prev.Opened
	added.Closed -= prev.Closed
	added.Failed -= prev.Failed
	added.BytesSent -= prev.BytesSent
	added.BytesReceived -= prev.BytesReceived
	if added.Opened == 0 && added.Closed == 0 && added.Failed == 0 {
		return // nothing new: every connection so far was reported one by one, or handed
	}
	if seen {
		// They came since the last hand-over, by LastNs at the latest: a
		// second late at most, never before an interval they belong to.
		added.FirstNs = c.LastNs
	}
	o.handed[*k] = *c
	handle(countedEvent(o.boot, k, &added))
}

// bootNow is the time since boot (CLOCK_BOOTTIME), the clock of the
// kernel's time stamps.
func bootNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0 // nothing looks idle
	}
	return time.Duration(ts.Nano())
}

// Stats reads the counters, kernel side included.
func (o *Observer) Stats() (Stats, error) {
	s := Stats{Events: o.events.Load(), DecodeErrors: o.decodeErrors.Load()}
	d, err := o.objs.Drops()
	if err != nil {
		return s, err
	}
	s.Dropped, s.Unattributed, s.Reported, s.Rescued = d[bpf.DropRingBufferFull], d[bpf.DropNoStorage], d[bpf.DropFlowsFull], d[bpf.DropRescued]
	s.Skipped, err = o.objs.Skipped(d)
	return s, err
}

// Close detaches the program and frees everything; a Run in progress
// returns.
func (o *Observer) Close() error {
	return errors.Join(o.reader.Close(), o.objs.Close())
}
