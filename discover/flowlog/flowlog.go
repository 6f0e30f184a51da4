// Package flowlog reads flow logs recorded elsewhere into flows.Log, for
// clusters where stridemap-observer does not run on every node, or runs
// there as a DaemonSet: stridemap-observer's own JSON lines, and Cilium
// Hubble's ("hubble observe -o json", with or without the {"flow": …}
// wrapper that hubble 0.10 and later print). Both kinds may be mixed in one
// stream. ReadPaths reads files and directories of them, leaving out (and
// reporting) the lines and files that are not flow logs.
//
// Hubble reports packets, not connections: a connection is counted at its
// first packet (TCP SYN without ACK, not a reply) and each later packet
// only moves its last-seen time. An event seen leaving the client
// (EGRESS) becomes the client's side of the flow, one seen arriving at the
// server (INGRESS) the server's side; resolve counts a connection seen from
// both sides once. Dropped SYNs count as failed connections. Hubble names
// pods, so flows carry those names for resolution; it reports no byte
// counts, and an L7 record (HTTP, Kafka) tells the protocol.
package flowlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
)

// ErrUnknownLine means a line is neither stridemap's nor Hubble's.
var ErrUnknownLine = errors.New("neither a stridemap nor a Hubble flow log line")

// hubbleFlow is the part of Hubble's flow.Flow (protojson) that is read.
type hubbleFlow struct {
	Time    time.Time `json:"time"`
	Verdict string    `json:"verdict"`
	IP      *struct {
		Source      string `json:"source"`
		Destination string `json:"destination"`
	} `json:"IP"`
	L4 *struct {
		TCP *struct {
			SourcePort      uint16          `json:"source_port"`
			DestinationPort uint16          `json:"destination_port"`
			Flags           map[string]bool `json:"flags"`
		} `json:"TCP"`
	} `json:"l4"`
	Source           hubbleEndpoint `json:"source"`
	Destination      hubbleEndpoint `json:"destination"`
	NodeName         string         `json:"node_name"`
	TrafficDirection string         `json:"traffic_direction"`
	IsReply          bool           `json:"is_reply"`
	L7               *struct {
		HTTP  json.RawMessage `json:"http"`
		Kafka json.RawMessage `json:"kafka"`
	} `json:"l7"`
}

type hubbleEndpoint struct {
	Namespace string `json:"namespace"`
	PodName   string `json:"pod_name"`
}

func (e hubbleEndpoint) pod() string {
	if e.PodName == "" {
		return ""
	}
	return e.Namespace + "/" + e.PodName
}

type hubbleKey struct {
	node   string
	role   flows.Role
	local  netip.Addr
	remote netip.Addr
	port   uint16
}

// LineError is a line of a flow log that could not be read.
type LineError struct {
	Line int    // from 1
	As   string // what the line was read as ("Hubble flow"), when it matters
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Message()) }

// Message is the error without the line number.
func (e *LineError) Message() string {
	if e.As != "" {
		return e.As + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

func (e *LineError) Unwrap() error { return e.Err }

// maxLine bounds a flow log line: a Hubble flow is a few kilobytes.
const maxLine = 4 << 20

// Read reads a flow log. An error about a line is a *LineError.
func Read(r io.Reader) (*flows.Log, error) {
	log := &flows.Log{}
	hubble := map[hubbleKey]*flows.Flow{}
	var hubbleSummary *flows.Summary
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 1
	for ; sc.Scan(); n++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		// Keys are told apart exactly: encoding/json matches struct
		// fields regardless of case, and Hubble's flows have a "Summary".
		var top map[string]json.RawMessage
		if err := json.Unmarshal(b, &top); err != nil {
			return nil, &LineError{Line: n, Err: err}
		}
		var inner map[string]json.RawMessage
		if raw, ok := top["flow"]; ok {
			if err := json.Unmarshal(raw, &inner); err != nil {
				return nil, &LineError{Line: n, Err: err}
			}
		}
		_, ours := inner["role"]
		_, listener := top["listener"]
		_, summary := top["summary"]
		_, wrapped := top["flow"]
		_, bare := top["verdict"]
		lost, isLost := top["lost_events"]
		_, status := top["node_status"]
		switch {
		case ours || listener || summary:
			own, err := flows.ReadLog(bytes.NewReader(b))
			if err != nil {
				return nil, &LineError{Line: n, Err: errors.Unwrap(err)}
			}
			log.Flows = append(log.Flows, own.Flows...)
			log.Listeners = append(log.Listeners, own.Listeners...)
			log.Summaries = append(log.Summaries, own.Summaries...)
		case wrapped || bare:
			var hf hubbleFlow
			var err error
			if wrapped {
				var wrapped struct {
					Flow     hubbleFlow `json:"flow"`
					NodeName string     `json:"node_name"`
				}
				err = json.Unmarshal(b, &wrapped)
				hf = wrapped.Flow
				if hf.NodeName == "" {
					hf.NodeName = wrapped.NodeName
				}
			} else {
				err = json.Unmarshal(b, &hf)
			}
			if err != nil {
				return nil, &LineError{Line: n, As: "Hubble flow", Err: err}
			}
			if hubbleSummary == nil {
				hubbleSummary = &flows.Summary{Node: "hubble"}
			}
			hubbleSummary.Events++
			addHubble(hubble, hf)
		case isLost:
			var l struct {
				NumEventsLost uint64 `json:"num_events_lost"`
			}
			if err := json.Unmarshal(lost, &l); err != nil {
				return nil, &LineError{Line: n, As: "lost_events", Err: err}
			}
			if hubbleSummary == nil {
				hubbleSummary = &flows.Summary{Node: "hubble"}
			}
			hubbleSummary.Dropped += l.NumEventsLost
		case status:
			// relay bookkeeping
		default:
			return nil, &LineError{Line: n, Err: ErrUnknownLine}
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, &LineError{Line: n, Err: fmt.Errorf("longer than %d MiB, more than a flow log line holds; check that the file is a flow log", maxLine>>20)}
	} else if err != nil {
		return nil, err
	}
	if hubbleSummary != nil {
		keys := make([]hubbleKey, 0, len(hubble))
		for k := range hubble {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b hubbleKey) int {
			return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
		})
		var first, last time.Time
		for _, k := range keys {
			f := hubble[k]
			log.Flows = append(log.Flows, *f)
			if first.IsZero() || f.FirstSeen.Before(first) {
				first = f.FirstSeen
			}
			if f.LastSeen.After(last) {
				last = f.LastSeen
			}
		}
		hubbleSummary.Flows = len(keys)
		hubbleSummary.Started, hubbleSummary.Duration = first, last.Sub(first)
		log.Summaries = append(log.Summaries, *hubbleSummary)
	}
	return log, nil
}

// addHubble folds one Hubble TCP event into the flows.
func addHubble(out map[hubbleKey]*flows.Flow, hf hubbleFlow) {
	if hf.IP == nil || hf.L4 == nil || hf.L4.TCP == nil {
		return // not TCP: DNS over UDP, ICMP, …
	}
	src, err1 := netip.ParseAddr(hf.IP.Source)
	dst, err2 := netip.ParseAddr(hf.IP.Destination)
	if err1 != nil || err2 != nil {
		return
	}
	tcp := hf.L4.TCP
	client, server, port := src, dst, tcp.DestinationPort
	clientPod, serverPod := hf.Source.pod(), hf.Destination.pod()
	if hf.IsReply {
		client, server, port = dst, src, tcp.SourcePort
		clientPod, serverPod = serverPod, clientPod
	}
	k := hubbleKey{node: hf.NodeName, role: flows.RoleClient, local: client, remote: server, port: port}
	localPod, remotePod := clientPod, serverPod
	if hf.TrafficDirection == "INGRESS" {
		k = hubbleKey{node: hf.NodeName, role: flows.RoleServer, local: server, remote: client, port: port}
		localPod, remotePod = serverPod, clientPod
	}
	f := out[k]
	if f == nil {
		f = &flows.Flow{
			Key:  flows.Key{Role: k.role, Local: k.local, Remote: k.remote, Port: k.port},
			Node: k.node, LocalPod: localPod, RemotePod: remotePod, FirstSeen: hf.Time, LastSeen: hf.Time,
		}
		out[k] = f
	}
	if hf.Time.Before(f.FirstSeen) {
		f.FirstSeen = hf.Time
	}
	if hf.Time.After(f.LastSeen) {
		f.LastSeen = hf.Time
	}
	if tcp.Flags["SYN"] && !tcp.Flags["ACK"] && !hf.IsReply {
		switch hf.Verdict {
		case "FORWARDED":
			f.Opened++
		case "DROPPED", "ERROR":
			f.Failed++
		}
	}
	if hf.L7 != nil {
		proto := ""
		switch {
		case hf.L7.HTTP != nil:
			proto = flows.ProtoHTTP
		case hf.L7.Kafka != nil:
			proto = flows.ProtoKafka
		}
		if proto != "" && f.Protocols[proto] == 0 {
			// Hubble's L7 records are per request: note the protocol once.
			f.Protocols = map[string]uint64{proto: 1}
			f.Encryption = map[string]uint64{flows.EncryptionPlaintext: 1}
		}
	}
}
