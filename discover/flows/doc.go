// Package flows observes the TCP connections the kernel actually carries,
// with eBPF, and aggregates them into flows: who (network namespace, cgroup,
// process) talked to which address and port, how often, how many bytes, and
// when.
//
// The pipeline has three steps, each its own function so each can be tested
// alone (the shape of Hubble's observer):
//
//	decode   Decode turns one ring buffer record into an Event (pure)
//	enrich   the Observer stamps wall-clock time on it
//	store    an Aggregator folds Events into a bounded set of Flows
//
// Most connections never reach user space one by one: the kernel reports
// the first few of each flow (for their first bytes, to classify the
// protocol) and counts the rest in place, in a bounded map the Observer
// reads every second into Counted events. Busy services then cost the
// machine a few map updates per connection, not a trip through the ring
// buffer and this package.
//
// Loading the program needs root (or CAP_BPF and CAP_PERFMON) and a kernel
// with BTF; decoding and aggregating need neither. Nothing is ever dropped
// silently: events the kernel could not queue, records that do not decode
// and flows beyond the aggregator's bound are all counted in Stats.
//
// The program itself is in the bpf subpackage.
package flows
