//go:build linux

package bpf

import (
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Options tune loading.
type Options struct {
	// RingBufferBytes is the size of the event ring buffer: a power of two
	// and a multiple of the page size. 0 keeps flow.c's 8 MiB.
	RingBufferBytes uint32
	// MaxFlows bounds the flows map. 0 keeps flow.c's 65,536.
	MaxFlows uint32
	// Without are optional parts not to load, as if the kernel had
	// refused them: to work around a kernel's bug, and to test that the
	// observer goes on without them.
	Without []Part
}

// Objects are the loaded programs and maps, and their links once attached.
type Objects struct {
	maps        flowMaps
	connections *ebpf.Program
	spare       *ebpf.Program // the tracker's spare copy (flow.c)
	adopt       *ebpf.Program // nil when ListenerAdoption is missing
	peekEgress  *ebpf.Program // nil when ProtocolPeek is missing, as peekIngress
	peekIngress *ebpf.Program
	// missing says why each optional part that is not at work is not.
	missing map[Part]error
	links   []link.Link // the connections program's, then its spare's
	peeks   []link.Link
}

// ErrLoad wraps every failure to load the required program into the
// kernel: missing privileges (CAP_BPF and CAP_PERFMON, or root), a kernel
// without BTF or too old, a verifier that refuses it.
var ErrLoad = errors.New("load eBPF flow program")

// Load loads flow.c's maps and programs into the kernel without attaching
// them. Each program is loaded on its own, so that a kernel refusing an
// optional part costs that part only (see Parts): Load fails only when the
// Connections program cannot load, and Parts says what is missing.
func Load(opts Options) (*Objects, error) {
	// Every program is relocated against the kernel's types: read them once.
	types := btf.NewCache()
	if err := checkKernel(types); err != nil {
		return nil, &loadFailure{fmt.Sprintf("%v: %v", ErrLoad, err), err}
	}
	// Before 5.11 the kernel charges eBPF memory to RLIMIT_MEMLOCK, whose
	// default is far below a ring buffer's size; later kernels ignore it.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, &loadFailure{fmt.Sprintf("%v: lift the locked-memory limit (RLIMIT_MEMLOCK) eBPF maps count against on this kernel: %v", ErrLoad, err), err}
	}
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
	o := &Objects{missing: map[Part]error{}}
	if err := spec.LoadAndAssign(&o.maps, nil); err != nil {
		return nil, loadError(err)
	}
	for _, p := range opts.Without {
		o.missing[p] = ErrTurnedOff
	}
	shared := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		flowMapAdopted: o.maps.Adopted, flowMapDrops: o.maps.Drops, flowMapEvents: o.maps.Events,
		flowMapFlows: o.maps.Flows, flowMapOwners: o.maps.Owners, flowMapTracking: o.maps.Tracking,
	}, Cache: types}

	// The connections program counts busy flows in place unless the
	// verifier refuses that part, or it is turned off: then it reports
	// every connection.
	aggregate := o.missing[Aggregation] == nil
	o.connections, o.spare, err = loadConnections(spec, shared, aggregate)
	if err != nil && aggregate {
		var without error
		if o.connections, o.spare, without = loadConnections(spec, shared, false); without == nil {
			o.missing[Aggregation] = err
		} else {
			err = without
		}
	}
	if err != nil {
		o.Close()
		return nil, loadError(err)
	}
	if o.missing[ListenerAdoption] == nil {
		o.adopt, o.missing[ListenerAdoption] = loadProgram(spec, shared, flowProgAdoptListeners)
	}
	if o.missing[ProtocolPeek] == nil {
		o.peekEgress, o.peekIngress, o.missing[ProtocolPeek] = loadPeek(spec, shared)
	}
	for p, err := range o.missing {
		if err == nil {
			delete(o.missing, p)
		}
	}
	return o, nil
}

// loadConnections loads the required program and its spare copy, with
// in-kernel aggregation or without.
func loadConnections(spec *ebpf.CollectionSpec, shared *ebpf.CollectionOptions, aggregate bool) (tracker, spare *ebpf.Program, err error) {
	if err := spec.Variables[flowVarAggregate].Set(aggregate); err != nil {
		return nil, nil, err
	}
	if tracker, err = loadProgram(spec, shared, flowProgInetSockSetState); err != nil {
		return nil, nil, err
	}
	if spare, err = loadProgram(spec, shared, flowProgTrackerSpare); err != nil {
		tracker.Close()
		return nil, nil, err
	}
	return tracker, spare, nil
}

// loadPeek loads both payload-peeking programs, or neither.
func loadPeek(spec *ebpf.CollectionSpec, shared *ebpf.CollectionOptions) (egress, ingress *ebpf.Program, err error) {
	if egress, err = loadProgram(spec, shared, flowProgPeekEgress); err != nil {
		if errors.Is(err, unix.EPERM) {
			err = fmt.Errorf("%w (cgroup_skb programs need CAP_NET_ADMIN)", err)
		}
		return nil, nil, err
	}
	if ingress, err = loadProgram(spec, shared, flowProgPeekIngress); err != nil {
		egress.Close()
		return nil, nil, err
	}
	return egress, ingress, nil
}

// loadProgram loads one program of spec alone, with the maps every
// program shares.
func loadProgram(spec *ebpf.CollectionSpec, shared *ebpf.CollectionOptions, name string) (*ebpf.Program, error) {
	one := spec.Copy()
	one.Programs = map[string]*ebpf.ProgramSpec{name: one.Programs[name]}
	coll, err := ebpf.NewCollectionWithOptions(one, *shared)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer coll.Close()
	return coll.DetachProgram(name), nil
}

// Parts says, for each part in Parts order, whether it is at work.
func (o *Objects) Parts() []Status {
	out := make([]Status, 0, len(Parts))
	for _, p := range Parts {
		out = append(out, Status{Part: p, Err: o.missing[p]})
	}
	return out
}

// Attach attaches the connections program to the inet_sock_set_state
// tracepoint, and its spare copy after it; from then on every TCP state
// change on the machine runs them. Then it gives the sockets already listening their owner (flow.c,
// adopt_listeners), unless that part is missing or fails now: only
// attaching the required programs is an error.
func (o *Objects) Attach() error {
	if o.links != nil {
		return nil
	}
	if err := o.attachTrackers(o.connections, o.spare); err != nil {
		return err
	}
	if o.adopt != nil {
		if err := o.adoptListeners(); err != nil {
			o.missing[ListenerAdoption] = err
		}
	}
	return nil
}

// attachTrackers attaches progs to the inet_sock_set_state tracepoint, in
// order, or none of them.
func (o *Objects) attachTrackers(progs ...*ebpf.Program) error {
	for _, p := range progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p, AttachType: ebpf.AttachTraceRawTp})
		if err != nil {
			for _, l := range o.links {
				l.Close()
			}
			o.links = nil
			return fmt.Errorf("attach to tracepoint inet_sock_set_state: %w", err)
		}
		o.links = append(o.links, l)
	}
	return nil
}

// adoptListeners runs flow.c's adopt_listeners iterator once: sockets that
// were listening before the program was attached get their owner, and are
// reported as EventListen.
func (o *Objects) adoptListeners() error {
	it, err := link.AttachIter(link.IterOptions{Program: o.adopt})
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
// EventPayload. It needs CAP_NET_ADMIN besides CAP_BPF. When the part is
// missing, or attaching fails, ProtocolPeek is missing and the error says
// why; nothing stays half attached.
func (o *Objects) AttachCgroup(path string) error {
	if err := o.missing[ProtocolPeek]; err != nil {
		return err
	}
	if path == "" {
		o.missing[ProtocolPeek] = ErrNoCgroup
		return ErrNoCgroup
	}
	for _, p := range []struct {
		prog   *ebpf.Program
		attach ebpf.AttachType
	}{{o.peekEgress, ebpf.AttachCGroupInetEgress}, {o.peekIngress, ebpf.AttachCGroupInetIngress}} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: path, Attach: p.attach, Program: p.prog})
		if err != nil {
			for _, l := range o.peeks {
				l.Close()
			}
			o.peeks = nil
			err = fmt.Errorf("attach to cgroup %s: %w (needs CAP_NET_ADMIN)", path, err)
			o.missing[ProtocolPeek] = err
			return err
		}
		o.peeks = append(o.peeks, l)
	}
	return nil
}

// Peeking reports whether the payload-peeking programs are attached.
func (o *Objects) Peeking() bool { return len(o.peeks) > 0 }

// Detach detaches the programs. When it returns no program run is still in
// flight, so every event they will ever write is in the ring buffer.
func (o *Objects) Detach() error {
	var errs []error
	for _, l := range o.peeks {
		errs = append(errs, l.Close())
	}
	o.peeks = nil
	for _, l := range o.links {
		errs = append(errs, l.Close())
	}
	o.links = nil
	return errors.Join(errs...)
}

// Events is the ring buffer map the program writes RawEvents to.
func (o *Objects) Events() *ebpf.Map { return o.maps.Events }

// Drops reads the drop counters.
func (o *Objects) Drops() (Drops, error) {
	var d Drops
	for i := range d {
		var perCPU []uint64
		if err := o.maps.Drops.Lookup(uint32(i), &perCPU); err != nil {
			return d, fmt.Errorf("read drop counter %d: %w", i, err)
		}
		for _, n := range perCPU {
			d[i] += n
		}
	}
	return d, nil
}

// Skipped is how many TCP state changes the connection tracker did not
// see, because the kernel does not run a program on a CPU where it is
// already running (a change in a softirq that interrupts the tracker in a
// task, for example): each is a connection missed, or seen without its
// owner or its end. It is the tracker's skips that its spare copy did not
// make up for; the kernel counts skips since 5.12, before which this is 0.
// It can read low, never high: where the scheduler switches tasks between
// the tracker and its spare, the spare may count a rescue of a change the
// tracker handled (and then leaves alone). d are the drop counters, read
// before: each rescue follows a skip, so read this way round the
// difference is never negative.
func (o *Objects) Skipped(d Drops) (uint64, error) {
	st, err := o.connections.Stats()
	if err != nil {
		return 0, fmt.Errorf("read the connection tracker's statistics: %w", err)
	}
	return st.RecursionMisses - min(st.RecursionMisses, d[DropRescued]), nil
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
		n, err := o.maps.Flows.BatchLookup(&cursor, keys, values, nil)
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
	if err := o.maps.Flows.LookupAndDelete(k, &c); err != nil {
		return c, fmt.Errorf("remove an idle flow: %w", err)
	}
	return c, nil
}

// Close detaches the programs and frees them and the maps.
func (o *Objects) Close() error {
	errs := []error{o.Detach(), o.maps.Close()}
	for _, p := range []*ebpf.Program{o.connections, o.spare, o.adopt, o.peekEgress, o.peekIngress} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}
