package flows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"github.com/stridemap/stridemap/discover/flows/bpf"
)

// Kind is what happened to a connection.
type Kind uint8

// Kinds, as flow.c reports them.
const (
	Listen        = Kind(bpf.EventListen)        // a socket started listening
	Connect       = Kind(bpf.EventConnect)       // a connect() completed: the local end is the client
	Accept        = Kind(bpf.EventAccept)        // a connection was accepted: the local end is the server
	Close         = Kind(bpf.EventClose)         // an open connection ended; its bytes are final
	ConnectFailed = Kind(bpf.EventConnectFailed) // a connect() never opened (refused, timed out, reset)
	Payload       = Kind(bpf.EventPayload)       // the first bytes one way of an open connection (needs Config.Cgroup)
	// Counted is not a kernel event: it carries what the kernel counted,
	// since the last Counted event of the flow, of the connections it
	// counted instead of reporting (all but the first few of each flow;
	// see flow.c). The Observer hands them over every second and when it
	// stops.
	Counted Kind = 0x80
)

// Direction says which way a Payload event's bytes went.
type Direction uint8

// Directions, as flow.c reports them.
const (
	Egress  = Direction(bpf.DirEgress)  // sent by the local end
	Ingress = Direction(bpf.DirIngress) // received by the local end
)

func (k Kind) String() string {
	switch k {
	case Listen:
		return "listen"
	case Connect:
		return "connect"
	case Accept:
		return "accept"
	case Close:
		return "close"
	case ConnectFailed:
		return "connect-failed"
	case Payload:
		return "payload"
	case Counted:
		return "counted"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Role says which end of a connection the local socket is.
type Role uint8

const (
	RoleUnknown Role = iota
	RoleClient       // the local socket called connect()
	RoleServer       // the local socket was accepted from a listener
)

func (r Role) String() string {
	switch r {
	case RoleClient:
		return "client"
	case RoleServer:
		return "server"
	}
	return "unknown"
}

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role's name.
func (r *Role) UnmarshalText(b []byte) error {
	switch string(b) {
	case "client":
		*r = RoleClient
	case "server":
		*r = RoleServer
	case "unknown", "":
		*r = RoleUnknown
	default:
		return fmt.Errorf("unknown flow role %q: want client or server", b)
	}
	return nil
}

// TCPState is a TCP state as the kernel numbers it (TCP_ESTABLISHED = 1 …).
type TCPState uint8

var tcpStates = [...]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

func (s TCPState) String() string {
	if int(s) < len(tcpStates) && s != 0 {
		return tcpStates[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Event is one connection event from the kernel.
type Event struct {
	Kind Kind
	Role Role
	// Boot is when it happened, as time since boot (CLOCK_BOOTTIME); Time
	// is the same instant on the wall clock, set by the Observer.
	Boot time.Duration
	Time time.Time
	// Cookie identifies the socket while the machine is up: the open and
	// close of one connection carry the same cookie.
	Cookie uint64
	// Netns is the inode of the socket's network namespace.
	Netns uint32
	// Owner: the process that called connect() or listen() (for an
	// accepted connection, the listener's). OwnerKnown is false for
	// sockets created before the program was attached.
	OwnerKnown bool
	PID        uint32
	Comm       string
	CgroupID   uint64 // cgroup v2 id
	// Local and Remote are the socket's ends; IPv4 peers of dual-stack
	// sockets are unmapped to plain IPv4.
	Local, Remote netip.AddrPort
	IPv6Socket    bool
	// State is the TCP state a Close or ConnectFailed left.
	State TCPState
	// Payload bytes, set on Close: sent (acknowledged or not, without
	// retransmissions) and received.
	HasBytes                 bool
	BytesSent, BytesReceived uint64
	// A Payload event carries the first bytes (at most bpf.PayloadMax) the
	// socket sent or received, and no addresses: Cookie names the
	// connection. They are for classifying, never for keeping.
	Direction  Direction
	PayloadLen int
	Payload    [bpf.PayloadMax]byte
	// Counts are a Counted event's; its Time is when the flow was last
	// counted, and Local and Remote carry no ports (ServerPort does).
	Counts Counts
}

// Counts are what the kernel counted, in place, of a flow's connections
// since it last reported them.
type Counts struct {
	Opened, Closed, Failed   uint64
	BytesSent, BytesReceived uint64
	// First is when the first of them happened, as well as is known.
	First time.Time
	// Port is the server's port.
	Port uint16
}

// PayloadBytes are the valid bytes of a Payload event.
func (e *Event) PayloadBytes() []byte { return e.Payload[:e.PayloadLen] }

// ServerPort is the port of the connection's server end.
func (e *Event) ServerPort() uint16 {
	if e.Kind == Counted {
		return e.Counts.Port
	}
	if e.Role == RoleClient {
		return e.Remote.Port()
	}
	return e.Local.Port()
}

// Decoding errors. Both mean flow.c and this package disagree, which the
// committed, drift-checked bindings should make impossible.
var (
	ErrShortRecord = errors.New("flow event record too short")
	ErrUnknownKind = errors.New("flow event of unknown kind")
)

// RecordSize is the size of a Payload record; the others leave the payload
// out and are MinRecordSize long.
const (
	RecordSize    = int(unsafe.Sizeof(bpf.RawEvent{}))
	MinRecordSize = RecordSize - bpf.PayloadMax
)

// Offsets of the fields Decode reads, from the generated layout.
var (
	offTimestamp = unsafe.Offsetof(bpf.RawEvent{}.TimestampNs)
	offCookie    = unsafe.Offsetof(bpf.RawEvent{}.Cookie)
	offCgroup    = unsafe.Offsetof(bpf.RawEvent{}.CgroupId)
	offSent      = unsafe.Offsetof(bpf.RawEvent{}.BytesSent)
	offReceived  = unsafe.Offsetof(bpf.RawEvent{}.BytesReceived)
	offNetns     = unsafe.Offsetof(bpf.RawEvent{}.Netns)
	offPID       = unsafe.Offsetof(bpf.RawEvent{}.Pid)
	offLocal     = unsafe.Offsetof(bpf.RawEvent{}.LocalAddr)
	offRemote    = unsafe.Offsetof(bpf.RawEvent{}.RemoteAddr)
	offLPort     = unsafe.Offsetof(bpf.RawEvent{}.LocalPort)
	offRPort     = unsafe.Offsetof(bpf.RawEvent{}.RemotePort)
	offFamily    = unsafe.Offsetof(bpf.RawEvent{}.Family)
	offType      = unsafe.Offsetof(bpf.RawEvent{}.Type)
	offFlags     = unsafe.Offsetof(bpf.RawEvent{}.Flags)
	offState     = unsafe.Offsetof(bpf.RawEvent{}.State)
	offComm      = unsafe.Offsetof(bpf.RawEvent{}.Comm)
	offPayLen    = unsafe.Offsetof(bpf.RawEvent{}.PayloadLen)
	offDirection = unsafe.Offsetof(bpf.RawEvent{}.Direction)
	offPayload   = unsafe.Offsetof(bpf.RawEvent{}.Payload)
)

const afInet6 = 10

// Decode turns one ring buffer record into an Event. It does not set Time.
func Decode(b []byte) (Event, error) {
	if len(b) < MinRecordSize {
		return Event{}, fmt.Errorf("%w: %d bytes, want %d", ErrShortRecord, len(b), MinRecordSize)
	}
	le := binary.LittleEndian // bpf2go generated the bindings for bpfel only
	e := Event{
		Kind:          Kind(b[offType]),
		Boot:          time.Duration(le.Uint64(b[offTimestamp:])),
		Cookie:        le.Uint64(b[offCookie:]),
		CgroupID:      le.Uint64(b[offCgroup:]),
		BytesSent:     le.Uint64(b[offSent:]),
		BytesReceived: le.Uint64(b[offReceived:]),
		Netns:         le.Uint32(b[offNetns:]),
		PID:           le.Uint32(b[offPID:]),
		IPv6Socket:    b[offFamily] == afInet6,
		State:         TCPState(b[offState]),
	}
	if e.Kind < Listen || e.Kind > Payload {
		return Event{}, fmt.Errorf("%w: %d", ErrUnknownKind, b[offType])
	}
	flags := b[offFlags]
	e.OwnerKnown = flags&bpf.FlagOwnerKnown != 0
	e.HasBytes = flags&bpf.FlagBytes != 0
	switch {
	case flags&bpf.FlagClient != 0:
		e.Role = RoleClient
	case flags&bpf.FlagServer != 0:
		e.Role = RoleServer
	}
	e.Local = netip.AddrPortFrom(addr16(b[offLocal:]), le.Uint16(b[offLPort:]))
	e.Remote = netip.AddrPortFrom(addr16(b[offRemote:]), le.Uint16(b[offRPort:]))
	if e.OwnerKnown {
		e.Comm = cString(b[offComm : offComm+16])
	}
	if e.Kind == Payload {
		if len(b) < RecordSize {
			return Event{}, fmt.Errorf("%w: a payload event of %d bytes, want %d", ErrShortRecord, len(b), RecordSize)
		}
		e.Direction = Direction(b[offDirection])
		e.PayloadLen = min(int(le.Uint16(b[offPayLen:])), bpf.PayloadMax)
		copy(e.Payload[:], b[offPayload:offPayload+uintptr(e.PayloadLen)])
	}
	return e, nil
}

func addr16(b []byte) netip.Addr {
	return netip.AddrFrom16([16]byte(b[:16])).Unmap()
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// countedEvent turns an entry of the kernel's flows map into a Counted
// event; boot is when the machine booted, on the wall clock.
func countedEvent(boot time.Time, k *bpf.FlowKey, c *bpf.FlowCounts) Event {
	e := Event{
		Kind:     Counted,
		Boot:     time.Duration(c.LastNs),
		Time:     boot.Add(time.Duration(c.LastNs)),
		Netns:    k.Netns,
		CgroupID: k.CgroupId,
		PID:      c.Pid,
		Local:    netip.AddrPortFrom(netip.AddrFrom16(k.LocalAddr).Unmap(), 0),
		Remote:   netip.AddrPortFrom(netip.AddrFrom16(k.RemoteAddr).Unmap(), 0),
		Counts: Counts{
			Opened: c.Opened, Closed: c.Closed, Failed: c.Failed,
			BytesSent: c.BytesSent, BytesReceived: c.BytesReceived,
			First: boot.Add(time.Duration(c.FirstNs)),
			Port:  k.Port,
		},
	}
	switch k.Role {
	case bpf.FlagClient:
		e.Role = RoleClient
	case bpf.FlagServer:
		e.Role = RoleServer
	}
	if c.Pid != 0 {
		e.OwnerKnown = true
		comm := make([]byte, len(c.Comm))
		for i, ch := range c.Comm {
			comm[i] = byte(ch)
		}
		e.Comm = cString(comm)
	}
	return e
}
