package flows

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Key identifies a flow: one side's view of the connections between two
// addresses on one server port. The client's ephemeral port is not part of
// it, so every connection from a client to a service adds to one flow.
type Key struct {
	Netns    uint32     `json:"netns"`              // network namespace inode of the local socket
	CgroupID uint64     `json:"cgroupId,omitempty"` // cgroup v2 id of the local socket's owner, 0 when unknown
	Role     Role       `json:"role"`               // which end the local socket is
	Local    netip.Addr `json:"local"`
	Remote   netip.Addr `json:"remote"`
	Port     uint16     `json:"port"` // the server's port: remote for a client, local for a server
}

// Flow is what was seen of one Key.
type Flow struct {
	Key
	// Node is the machine the flow was observed on, and Cgroup the path of
	// CgroupID under the cgroup v2 mount; both are filled in when flows are
	// written out, "" when unknown.
	Node   string `json:"node,omitempty"`
	Cgroup string `json:"cgroup,omitempty"`
	// LocalPod and RemotePod name the ends' pods ("namespace/name") when
	// the source knew them (Hubble does; the eBPF observer does not).
	LocalPod  string `json:"localPod,omitempty"`
	RemotePod string `json:"remotePod,omitempty"`
	// Comm and PID are the owner of the most recent connection, empty and
	// 0 when the socket predates the observer.
	Comm string `json:"comm,omitempty"`
	PID  uint32 `json:"pid,omitempty"`
	// Opened counts connections opened, Closed those that ended while
	// observed, Failed connect() calls that never opened.
	Opened uint64 `json:"opened"`
	Closed uint64 `json:"closed"`
	Failed uint64 `json:"failed,omitempty"`
	// Bytes of payload over the closed connections.
	BytesSent     uint64    `json:"bytesSent"`
	BytesReceived uint64    `json:"bytesReceived"`
	FirstSeen     time.Time `json:"firstSeen"`
	LastSeen      time.Time `json:"lastSeen"`
	// Protocols and Encryption count connections by what their first bytes
	// showed (see Classify): {"http": 3}, {"plaintext": 3}. The kernel
	// reports the first bytes of only the first few connections of each
	// flow (flow.c, PEEK_SAMPLES), so these are samples; connections whose
	// bytes were not seen, or said nothing, are not counted.
	Protocols  map[string]uint64 `json:"protocols,omitempty"`
	Encryption map[string]uint64 `json:"encryption,omitempty"`
	// Unclassified says the observer could not peek at payloads (the
	// kernel refused it, or there was no cgroup v2): protocol and
	// encryption were not looked at, and are unknown.
	Unclassified bool `json:"unclassified,omitempty"`
}

// count adds one connection's verdict.
func (f *Flow) count(v Verdict) {
	if v.Protocol != "" {
		if f.Protocols == nil {
			f.Protocols = map[string]uint64{}
		}
		f.Protocols[v.Protocol]++
	}
	if v.Encryption != "" {
		if f.Encryption == nil {
			f.Encryption = map[string]uint64{}
		}
		f.Encryption[v.Encryption]++
	}
}

// Listener is a listening socket seen while observing.
type Listener struct {
	Netns    uint32         `json:"netns"`
	CgroupID uint64         `json:"cgroupId,omitempty"`
	Node     string         `json:"node,omitempty"`
	Cgroup   string         `json:"cgroup,omitempty"`
	Addr     netip.AddrPort `json:"addr"`
	Comm     string         `json:"comm,omitempty"`
	PID      uint32         `json:"pid,omitempty"`
	Time     time.Time      `json:"time"`
}

type listenerKey struct {
	netns uint32
	addr  netip.AddrPort
}

// DefaultMaxFlows bounds an Aggregator made with a bound of 0.
const DefaultMaxFlows = 1 << 16

// Aggregator folds events into at most a fixed number of flows (and as many
// listeners). Events for a new flow beyond the bound are counted as
// overflow, not kept. It is safe for concurrent use.
type Aggregator struct {
	mu        sync.Mutex
	max       int
	flows     map[Key]*Flow
	listeners map[listenerKey]*Listener
	// conns are the open connections, by socket cookie, so that Payload
	// events (which carry no addresses) find their flow.
	conns    map[uint64]*conn
	events   uint64
	overflow uint64
}

// conn is one open connection and the first bytes seen each way.
type conn struct {
	key               Key
	request, response []byte
	// taken: its verdict went out with a Take while it was open, so its
	// close does not count it again.
	taken bool
}

// NewAggregator returns an Aggregator that keeps at most maxFlows flows.
func NewAggregator(maxFlows int) *Aggregator {
	if maxFlows <= 0 {
		maxFlows = DefaultMaxFlows
	}
	return &Aggregator{max: maxFlows, flows: map[Key]*Flow{}, listeners: map[listenerKey]*Listener{}, conns: map[uint64]*conn{}}
}

// Add folds one event in.
func (a *Aggregator) Add(e Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events++
	switch e.Kind {
	case Listen:
		a.addListener(e)
		return
	case Payload:
		a.addPayload(e)
		return
	}
	k := Key{Netns: e.Netns, CgroupID: e.CgroupID, Role: e.Role, Local: e.Local.Addr(), Remote: e.Remote.Addr(), Port: e.ServerPort()}
	f := a.flows[k]
	if f == nil {
		if len(a.flows) >= a.max {
			a.overflow++
			return
		}
		f = &Flow{Key: k, FirstSeen: e.Time}
		a.flows[k] = f
	}
	switch e.Kind {
	case Counted:
		n := e.Counts
		f.Opened += n.Opened
		f.Closed += n.Closed
		f.Failed += n.Failed
		f.BytesSent += n.BytesSent
		f.BytesReceived += n.BytesReceived
		if n.First.Before(f.FirstSeen) {
			f.FirstSeen = n.First
		}
		if e.OwnerKnown && f.Comm == "" {
			f.Comm, f.PID = e.Comm, e.PID // the flow's first owner: later events say who is latest
		}
		if e.Time.After(f.LastSeen) {
			f.LastSeen = e.Time
		}
		return
	case Connect, Accept:
		f.Opened++
		if len(a.conns) < a.max {
			a.conns[e.Cookie] = &conn{key: k}
		} else {
			a.overflow++ // its first bytes will not be classified
		}
	case Close:
		f.Closed++
		f.BytesSent += e.BytesSent
		f.BytesReceived += e.BytesReceived
		if c := a.conns[e.Cookie]; c != nil {
			delete(a.conns, e.Cookie)
			if c.key == k && !c.taken {
				f.count(c.verdict())
			}
		}
	case ConnectFailed:
		f.Failed++
	}
	if e.OwnerKnown {
		f.Comm, f.PID = e.Comm, e.PID
	}
	if e.Time.Before(f.FirstSeen) {
		f.FirstSeen = e.Time
	}
	if e.Time.After(f.LastSeen) {
		f.LastSeen = e.Time
	}
}

// addPayload keeps the first bytes of an open connection: a client's
// egress and a server's ingress are the request, the other way the
// response.
func (a *Aggregator) addPayload(e Event) {
	c := a.conns[e.Cookie]
	if c == nil {
		return // opened before the observer, or beyond the bound
	}
	request := (e.Direction == Egress) == (c.key.Role == RoleClient)
	if request && c.request == nil {
		c.request = append([]byte(nil), e.PayloadBytes()...)
	} else if !request && c.response == nil {
		c.response = append([]byte(nil), e.PayloadBytes()...)
	}
}

func (c *conn) verdict() Verdict {
	if c.request == nil && c.response == nil {
		return Verdict{}
	}
	return Classify(c.request, c.response)
}

func (a *Aggregator) addListener(e Event) {
	k := listenerKey{e.Netns, e.Local}
	if _, ok := a.listeners[k]; !ok && len(a.listeners) >= a.max {
		a.overflow++
		return
	}
	a.listeners[k] = &Listener{Netns: e.Netns, CgroupID: e.CgroupID, Addr: e.Local, Comm: e.Comm, PID: e.PID, Time: e.Time}
}

// Flows returns a copy of the flows, in a stable order. Connections still
// open count with what their first bytes showed so far.
func (a *Aggregator) Flows() []Flow {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.copyFlows(false)
}

// Listeners returns a copy of the listeners seen, in a stable order.
func (a *Aggregator) Listeners() []Listener {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.copyListeners()
}

// Take returns the flows and listeners seen since the last Take (or the
// start) and forgets them, so that an observer running for days holds one
// interval at a time and each interval can be written out on its own.
// Open connections are kept: their closes count in the interval they come
// in. The protocol of a connection open at a Take counts in that interval,
// once its first bytes were seen, and not again when it closes.
func (a *Aggregator) Take() ([]Flow, []Listener) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fl, ls := a.copyFlows(true), a.copyListeners()
	clear(a.flows)
	clear(a.listeners)
	return fl, ls
}

// copyFlows copies the flows with the verdicts of open connections
// counted in; taking marks those connections taken.
func (a *Aggregator) copyFlows(taking bool) []Flow {
	out := make([]Flow, 0, len(a.flows))
	index := make(map[Key]int, len(a.flows))
	for k, f := range a.flows {
		c := *f
		c.Protocols, c.Encryption = maps.Clone(f.Protocols), maps.Clone(f.Encryption)
		index[k] = len(out)
		out = append(out, c)
	}
	for _, c := range a.conns {
		i, ok := index[c.key]
		if !ok || c.taken {
			continue
		}
		v := c.verdict()
		out[i].count(v)
		if taking && v != (Verdict{}) {
			c.taken = true
		}
	}
	slices.SortFunc(out, func(x, y Flow) int { return compareKeys(x.Key, y.Key) })
	return out
}

func (a *Aggregator) copyListeners() []Listener {
	out := make([]Listener, 0, len(a.listeners))
	for _, l := range a.listeners {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(x, y Listener) int {
		return cmp.Or(cmp.Compare(x.Netns, y.Netns), x.Addr.Compare(y.Addr))
	})
	return out
}

// AggregatorStats count what an Aggregator took in.
type AggregatorStats struct {
	Events    uint64 // events added
	Flows     int    // distinct flows kept
	Listeners int    // distinct listeners kept
	// Overflow counts events for new flows or listeners that arrived when
	// the bound was reached, and were not kept, and connections too many
	// at once to classify.
	Overflow uint64
	// Open is the number of connections open now.
	Open int
}

// Stats reports what was added so far.
func (a *Aggregator) Stats() AggregatorStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AggregatorStats{Events: a.events, Flows: len(a.flows), Listeners: len(a.listeners), Overflow: a.overflow, Open: len(a.conns)}
}

func compareKeys(x, y Key) int {
	return cmp.Or(
		cmp.Compare(x.Netns, y.Netns),
		cmp.Compare(x.CgroupID, y.CgroupID),
		cmp.Compare(x.Role, y.Role),
		x.Local.Compare(y.Local),
		x.Remote.Compare(y.Remote),
		cmp.Compare(x.Port, y.Port),
	)
}
