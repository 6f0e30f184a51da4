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
	// connection's protocol and encryption. It needs CAP_NET_ADMIN.
	Cgroup string
	// MaxFlows bounds the kernel's table of flows whose connections it
	// counts in place; 0 means 65,536. Beyond it, new flows' connections
	// are reported one by one, which costs more but loses nothing.
	MaxFlows uint32
}

// pollInterval is how long queued events may wait for the reader: the
// program only wakes it early when much is queued (flow.c, WAKEUP_BYTES).
const pollInterval = 100 * time.Millisecond

// countsInterval is how often Run reads the kernel's flows map and hands
// its totals over as Counted events.
const countsInterval = time.Second

// Observer runs the eBPF program and reads its events.
type Observer struct {
	objs   *bpf.Objects
	reader *ringbuf.Reader
	// boot is the wall-clock time of boot, to turn CLOCK_BOOTTIME stamps
	// into times.
	boot         time.Time
	events       atomic.Uint64
	decodeErrors atomic.Uint64
}

// Open loads and attaches the program: from then on every TCP connection
// on the machine is queued for Run. It needs root, or CAP_BPF and
// CAP_PERFMON; the error wraps bpf.ErrLoad when loading failed.
func Open(cfg Config) (*Observer, error) {
	objs, err := bpf.Load(bpf.Options{RingBufferBytes: cfg.RingBufferBytes, MaxFlows: cfg.MaxFlows})
	if err != nil {
		return nil, err
	}
	reader, err := ringbuf.NewReader(objs.Events())
	if err != nil {
		objs.Close()
		return nil, fmt.Errorf("open the flow event ring buffer: %w", err)
	}
	o := &Observer{objs: objs, reader: reader, boot: bootTime()}
	if err := objs.Attach(); err != nil {
		o.Close()
		return nil, err
	}
	if cfg.Cgroup != "" {
		if err := objs.AttachCgroup(cfg.Cgroup); err != nil {
			o.Close()
			return nil, err
		}
	}
	return o, nil
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

// handCounts hands over the kernel's totals of every flow with counted
// connections.
func (o *Observer) handCounts(handle func(Event)) error {
	return o.objs.ReadFlows(func(k *bpf.FlowKey, c *bpf.FlowCounts) {
		if c.Opened == 0 && c.Failed == 0 {
			return // every connection so far was reported one by one
		}
		handle(countedEvent(o.boot, k, c))
	})
}

// Stats reads the counters, kernel side included.
func (o *Observer) Stats() (Stats, error) {
	s := Stats{Events: o.events.Load(), DecodeErrors: o.decodeErrors.Load()}
	d, err := o.objs.Drops()
	if err != nil {
		return s, err
	}
	s.Dropped, s.Unattributed, s.Reported = d[bpf.DropRingBufferFull], d[bpf.DropNoStorage], d[bpf.DropFlowsFull]
	return s, nil
}

// Close detaches the program and frees everything; a Run in progress
// returns.
func (o *Observer) Close() error {
	return errors.Join(o.reader.Close(), o.objs.Close())
}
