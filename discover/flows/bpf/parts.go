package bpf

import (
	"errors"
	"fmt"
)

// Part is a piece of the observer that a kernel's verifier accepts or
// refuses on its own. Only Connections is required: without any other
// part the observer still records every flow, with less detail.
type Part string

const (
	// Connections reports connect, accept and close of every TCP socket,
	// with the owner recorded at connect() and listen() time (flow.c,
	// inet_sock_set_state). Required.
	Connections Part = "connections"
	// ListenerAdoption finds the owners of sockets that were listening
	// before the observer started (adopt_listeners); without it their
	// connections have no owner until the server listens again.
	ListenerAdoption Part = "listener-adoption"
	// ProtocolPeek reads the first payload bytes of each flow's first
	// connections to tell TLS from plaintext protocols (peek_egress,
	// peek_ingress); without it protocol and encryption stay unknown.
	ProtocolPeek Part = "protocol-peek"
	// Aggregation counts busy flows' connections in the kernel; without it
	// each connection is reported one by one, which costs more CPU and
	// nothing else.
	Aggregation Part = "aggregation"
)

// Parts are every part, the required one first.
var Parts = []Part{Connections, ListenerAdoption, ProtocolPeek, Aggregation}

// ParsePart reads an optional part's name, as --without takes it.
func ParsePart(name string) (Part, error) {
	for _, p := range Parts[1:] {
		if string(p) == name {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown part %q: want listener-adoption, protocol-peek or aggregation", name)
}

// ErrTurnedOff is why a part left out on request (Options.Without) is
// missing.
var ErrTurnedOff = errors.New("turned off (--without)")

// ErrNoCgroup is why ProtocolPeek is missing when there was no cgroup v2
// directory to attach it to.
var ErrNoCgroup = errors.New("cgroup v2 is not mounted, so there is no cgroup to attach to")

// Status says whether a part is at work, and why not.
type Status struct {
	Part Part
	Err  error // nil when the part works
}

// Title names the part in a sentence.
func (p Part) Title() string {
	switch p {
	case Connections:
		return "connection tracking"
	case ListenerAdoption:
		return "listener adoption"
	case ProtocolPeek:
		return "protocol classification"
	case Aggregation:
		return "in-kernel aggregation"
	}
	return string(p)
}

// Loss says what observing without the part loses.
func (p Part) Loss() string {
	switch p {
	case ListenerAdoption:
		return "connections to servers that were listening before observing started have no owner (process, cgroup)"
	case ProtocolPeek:
		return "flows are still recorded, their protocol and encryption unknown"
	case Aggregation:
		return "every connection is reported one by one, which costs more CPU; nothing is lost"
	}
	return "no flows can be observed"
}
