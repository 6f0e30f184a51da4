package flows

// Stats counts what was read and what was lost.
type Stats struct {
	Events       uint64 // records read from the ring buffer
	DecodeErrors uint64 // records that did not decode (a bug: please report)
	// Dropped counts events the kernel could not queue because the ring
	// buffer was full: Run is not keeping up, or the buffer is too small.
	Dropped uint64
	// Unattributed counts sockets the kernel could not keep owner storage
	// for (out of memory): their owner and close were not seen.
	Unattributed uint64
	// Skipped counts state changes of TCP sockets the kernel did not run
	// the tracker for, because it was already running on that CPU, and
	// that its spare copy did not see either: each a connection missed,
	// or seen without its owner or its end.
	Skipped uint64
	// Rescued counts state changes the kernel skipped the tracker for and
	// its spare copy saw: not a loss.
	Rescued uint64
	// Reported counts connections of new flows that the kernel reported
	// one by one because its table of counted flows (Config.MaxFlows) was
	// full: nothing is lost, but busy flows cost more to observe.
	Reported uint64
}
