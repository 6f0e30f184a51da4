package bpf

import (
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// RawEvent is the layout of one ring buffer record, as flow.c writes it.
type RawEvent = flowEvent

// FlowKey and FlowCounts are the layout of the flows map: the connections
// of a flow that were counted in the kernel instead of reported.
type (
	FlowKey    = flowFlowKey
	FlowCounts = flowFlowCounts
)

// Event types (RawEvent.Type).
const (
	EventListen        = uint8(flowEventTypeEVENT_LISTEN)
	EventConnect       = uint8(flowEventTypeEVENT_CONNECT)
	EventAccept        = uint8(flowEventTypeEVENT_ACCEPT)
	EventClose         = uint8(flowEventTypeEVENT_CLOSE)
	EventConnectFailed = uint8(flowEventTypeEVENT_CONNECT_FAILED)
	EventPayload       = uint8(flowEventTypeEVENT_PAYLOAD)
)

// Directions of an EventPayload (RawEvent.Direction).
const (
	DirEgress  = uint8(flowDirectionDIR_EGRESS)
	DirIngress = uint8(flowDirectionDIR_INGRESS)
)

// PayloadMax is how many bytes of payload an EventPayload carries at most.
const PayloadMax = len(RawEvent{}.Payload)

// Event flags (RawEvent.Flags).
const (
	FlagOwnerKnown = uint8(flowEventFlagsFLAG_OWNER_KNOWN)
	FlagClient     = uint8(flowEventFlagsFLAG_CLIENT)
	FlagServer     = uint8(flowEventFlagsFLAG_SERVER)
	FlagBytes      = uint8(flowEventFlagsFLAG_BYTES)
)

// Drop counters, indexes of Drops.
const (
	DropRingBufferFull = int(flowDropReasonDROP_RINGBUF_FULL)
	DropNoStorage      = int(flowDropReasonDROP_NO_STORAGE)
	DropFlowsFull      = int(flowDropReasonDROP_FLOWS_FULL)
	dropReasons        = int(flowDropReasonDROP_REASONS)
)

// Drops are the kernel-side drop counters summed over CPUs, indexed by
// DropRingBufferFull, DropNoStorage and DropFlowsFull.
type Drops [dropReasons]uint64

// Options tune loading.
type Options struct {
	// RingBufferBytes is the size of the event ring buffer: a power of two
	// and a multiple of the page size. 0 keeps flow.c's 8 MiB.
	RingBufferBytes uint32
	// MaxFlows bounds the flows map. 0 keeps flow.c's 65,536.
	MaxFlows uint32
}

// Objects are the loaded program and maps, and the tracepoint link once
// attached.
type Objects struct {
	objs  flowObjects
	link  link.Link
	peeks []link.Link
}

// ErrLoad wraps every failure to load the program into the kernel: most
// often missing privileges (CAP_BPF and CAP_PERFMON, or root) or a kernel
// without BTF.
var ErrLoad = errors.New("load eBPF flow program")

// Load loads flow.c's program and maps into the kernel without attaching
// the program.
func Load(opts Options) (*Objects, error) {
	spec, err := loadFlow()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	if opts.RingBufferBytes != 0 {
		spec.Maps[flowMapEvents].MaxEntries = opts.RingBufferBytes
	}
	if opts.MaxFlows != 0 {
		spec.Maps[flowMapFlows].MaxEntries = opts.MaxFlows
	}
	o := &Objects{}
	if err := spec.LoadAndAssign(&o.objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("%w: %+v", ErrLoad, verr)
		}
		return nil, fmt.Errorf("%w: %w (run as root, or with CAP_BPF and CAP_PERFMON)", ErrLoad, err)
	}
	return o, nil
}

// Attach attaches the program to the inet_sock_set_state tracepoint; from
// then on every TCP state change on the machine runs it. Then it gives the
// sockets already listening their owner (flow.c, adopt_listeners).
func (o *Objects) Attach() error {
	if o.link != nil {
		return nil
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: o.objs.InetSockSetState, AttachType: ebpf.AttachTraceRawTp})
	if err != nil {
		return fmt.Errorf("attach to tracepoint inet_sock_set_state: %w", err)
	}
	o.link = l
	return o.adoptListeners()
}

// adoptListeners runs flow.c's adopt_listeners iterator once: sockets that
// were listening before the program was attached get their owner, and are
// reported as EventListen.
func (o *Objects) adoptListeners() error {
	it, err := link.AttachIter(link.IterOptions{Program: o.objs.AdoptListeners})
	if err != nil {
		return fmt.Errorf("attach the listening-socket iterator: %w", err)
	}
	defer it.Close()
	r, err := it.Open()
	if err != nil {
		return fmt.Errorf("run the listening-socket iterator: %w", err)
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("run the listening-socket iterator: %w", err)
	}
	return nil
}

// AttachCgroup attaches the payload-peeking programs to a cgroup v2
// directory: the first bytes each way of every connection whose socket was
// created by a process in that cgroup or below are reported as
// EventPayload. It needs CAP_NET_ADMIN besides CAP_BPF.
func (o *Objects) AttachCgroup(path string) error {
	for _, p := range []struct {
		prog   *ebpf.Program
		attach ebpf.AttachType
	}{{o.objs.PeekEgress, ebpf.AttachCGroupInetEgress}, {o.objs.PeekIngress, ebpf.AttachCGroupInetIngress}} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: path, Attach: p.attach, Program: p.prog})
		if err != nil {
			return fmt.Errorf("attach to cgroup %s: %w (needs CAP_NET_ADMIN)", path, err)
		}
		o.peeks = append(o.peeks, l)
	}
	return nil
}

// Detach detaches the programs. When it returns no program run is still in
// flight, so every event they will ever write is in the ring buffer.
func (o *Objects) Detach() error {
	var errs []error
	for _, l := range o.peeks {
		errs = append(errs, l.Close())
	}
	o.peeks = nil
	if o.link != nil {
		errs = append(errs, o.link.Close())
		o.link = nil
	}
	return errors.Join(errs...)
}

// Events is the ring buffer map the program writes RawEvents to.
func (o *Objects) Events() *ebpf.Map { return o.objs.Events }

// Drops reads the drop counters.
func (o *Objects) Drops() (Drops, error) {
	var d Drops
	for i := range d {
		var perCPU []uint64
		if err := o.objs.flowMaps.Drops.Lookup(uint32(i), &perCPU); err != nil {
			return d, fmt.Errorf("read drop counter %d: %w", i, err)
		}
		for _, n := range perCPU {
			d[i] += n
		}
	}
	return d, nil
}

// flowBatch is how many flows one system call reads: more than any hash
// bucket holds, which the kernel requires of a batch.
const flowBatch = 4096

// ReadFlows hands each flow of the flows map to fn, in batches.
func (o *Objects) ReadFlows(fn func(*FlowKey, *FlowCounts)) error {
	keys := make([]FlowKey, flowBatch)
	values := make([]FlowCounts, flowBatch)
	var cursor ebpf.MapBatchCursor
	for {
		n, err := o.objs.Flows.BatchLookup(&cursor, keys, values, nil)
		for i := range n {
			fn(&keys[i], &values[i])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the flows map: %w", err)
		}
	}
}

// RemoveFlow removes a flow from the flows map and returns its counts as
// they were when removed. A program that found the entry just before may
// still add to it: that connection is lost, which is why only flows idle
// for a while are removed.
func (o *Objects) RemoveFlow(k *FlowKey) (FlowCounts, error) {
	var c FlowCounts
	if err := o.objs.Flows.LookupAndDelete(k, &c); err != nil {
		return c, fmt.Errorf("remove an idle flow: %w", err)
	}
	return c, nil
}

// Close detaches the program and frees the maps.
func (o *Objects) Close() error {
	return errors.Join(o.Detach(), o.objs.Close())
}
