package flows

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows/bpf"
)

// record encodes a RawEvent the way the kernel lays it out.
func record(t *testing.T, e bpf.RawEvent) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, &e); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mapped(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func comm(s string) (c [16]int8) {
	for i := range min(len(s), len(c)) {
		c[i] = int8(s[i])
	}
	return c
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		raw  bpf.RawEvent
		want Event
	}{{
		name: "IPv4 connect, owner known",
		raw: bpf.RawEvent{
			TimestampNs: 5e9, Cookie: 77, CgroupId: 9, Netns: 4026531840, Pid: 1234,
			LocalAddr: mapped("::ffff:10.200.0.2"), RemoteAddr: mapped("::ffff:10.200.0.3"), LocalPort: 40000, RemotePort: 8080,
			Family: 2, Type: bpf.EventConnect, Flags: bpf.FlagOwnerKnown | bpf.FlagClient, Comm: comm("curl"),
		},
		want: Event{
			Kind: Connect, Role: RoleClient, Boot: 5 * time.Second, Cookie: 77, Netns: 4026531840,
			OwnerKnown: true, PID: 1234, Comm: "curl", CgroupID: 9,
			Local: netip.MustParseAddrPort("10.200.0.2:40000"), Remote: netip.MustParseAddrPort("10.200.0.3:8080"),
		},
	}, {
		name: "IPv4 peer of a dual-stack server socket is unmapped",
		raw: bpf.RawEvent{
			LocalAddr: mapped("::ffff:10.200.0.3"), RemoteAddr: mapped("::ffff:10.200.0.2"), LocalPort: 8080, RemotePort: 40000,
			Family: 10, Type: bpf.EventAccept, Flags: bpf.FlagOwnerKnown | bpf.FlagServer, Comm: comm("server-with-a-long-nam"),
		},
		want: Event{
			Kind: Accept, Role: RoleServer, OwnerKnown: true, Comm: "server-with-a-lo", IPv6Socket: true,
			Local: netip.MustParseAddrPort("10.200.0.3:8080"), Remote: netip.MustParseAddrPort("10.200.0.2:40000"),
		},
	}, {
		name: "IPv6 close with bytes, owner unknown: no comm",
		raw: bpf.RawEvent{
			LocalAddr: mapped("fd00::1"), RemoteAddr: mapped("fd00::2"), LocalPort: 443, RemotePort: 50000,
			Family: 10, Type: bpf.EventClose, Flags: bpf.FlagServer | bpf.FlagBytes, State: 9, BytesSent: 10, BytesReceived: 20,
			Comm: comm("stale"),
		},
		want: Event{
			Kind: Close, Role: RoleServer, IPv6Socket: true, State: 9, HasBytes: true, BytesSent: 10, BytesReceived: 20,
			Local: netip.MustParseAddrPort("[fd00::1]:443"), Remote: netip.MustParseAddrPort("[fd00::2]:50000"),
		},
	}, {
		name: "payload, cut to its length",
		raw: bpf.RawEvent{
			Cookie: 5, Type: bpf.EventPayload, Direction: bpf.DirEgress, PayloadLen: 4, Payload: [32]byte{'P', 'I', 'N', 'G', 'x'},
			Flags: bpf.FlagOwnerKnown | bpf.FlagClient, Comm: comm("redis-cli"), LocalPort: 40000, RemotePort: 6379,
		},
		want: Event{
			Kind: Payload, Role: RoleClient, Cookie: 5, OwnerKnown: true, Comm: "redis-cli", Direction: Egress, PayloadLen: 4, Payload: [32]byte{'P', 'I', 'N', 'G'},
			Local: netip.AddrPortFrom(netip.IPv6Unspecified(), 40000), Remote: netip.AddrPortFrom(netip.IPv6Unspecified(), 6379),
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(record(t, tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := record(t, bpf.RawEvent{Type: bpf.EventClose})
	if _, err := Decode(good[:MinRecordSize]); err != nil {
		t.Errorf("a close event needs no payload: %v", err)
	}
	if _, err := Decode(good[:MinRecordSize-1]); !errors.Is(err, ErrShortRecord) {
		t.Errorf("short record: %v, want ErrShortRecord", err)
	}
	payload := record(t, bpf.RawEvent{Type: bpf.EventPayload, PayloadLen: 4})
	if _, err := Decode(payload[:RecordSize-1]); !errors.Is(err, ErrShortRecord) {
		t.Errorf("short payload record: %v, want ErrShortRecord", err)
	}
	for _, kind := range []uint8{0, bpf.EventPayload + 1} {
		if _, err := Decode(record(t, bpf.RawEvent{Type: kind})); !errors.Is(err, ErrUnknownKind) {
			t.Errorf("kind %d: %v, want ErrUnknownKind", kind, err)
		}
	}
}

func TestEventStrings(t *testing.T) {
	if Connect.String() != "connect" || Kind(99).String() != "kind(99)" || RoleServer.String() != "server" ||
		TCPState(9).String() != "LAST_ACK" || TCPState(0).String() != "state(0)" {
		t.Error("String methods")
	}
}

// FuzzDecode: any record decodes to an event or one of the two errors, and
// an event agrees field by field with encoding/binary's reading of the
// generated layout, so the hand-kept offsets can never drift from flow.c.
func FuzzDecode(f *testing.F) {
	for _, raw := range []bpf.RawEvent{
		{Type: bpf.EventConnect},
		rawConnect(),
		{Type: bpf.EventPayload, PayloadLen: 5, Direction: bpf.DirIngress, Payload: [bpf.PayloadMax]byte{'G', 'E', 'T', ' ', '/'}},
		{Type: bpf.EventPayload, PayloadLen: 0xffff},
		{Type: bpf.EventClose, Family: afInet6, Flags: bpf.FlagServer | bpf.FlagBytes, State: 7, BytesSent: 1 << 40},
	} {
		var buf bytes.Buffer
		_ = binary.Write(&buf, binary.LittleEndian, &raw)
		f.Add(buf.Bytes())
		f.Add(buf.Bytes()[:MinRecordSize])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if len(b) < MinRecordSize {
			if !errors.Is(err, ErrShortRecord) {
				t.Fatalf("%d bytes: %v, want ErrShortRecord", len(b), err)
			}
			return
		}
		full := make([]byte, RecordSize)
		copy(full, b)
		var raw bpf.RawEvent
		if err := binary.Read(bytes.NewReader(full), binary.LittleEndian, &raw); err != nil {
			t.Fatal(err)
		}
		switch {
		case raw.Type < bpf.EventListen || raw.Type > bpf.EventPayload:
			if !errors.Is(err, ErrUnknownKind) {
				t.Fatalf("type %d: %v, want ErrUnknownKind", raw.Type, err)
			}
			return
		case raw.Type == bpf.EventPayload && len(b) < RecordSize:
			if !errors.Is(err, ErrShortRecord) {
				t.Fatalf("payload of %d bytes: %v, want ErrShortRecord", len(b), err)
			}
			return
		case err != nil:
			t.Fatalf("type %d, %d bytes: %v", raw.Type, len(b), err)
		}
		if e.Kind != Kind(raw.Type) || e.Cookie != raw.Cookie || e.CgroupID != raw.CgroupId || e.PID != raw.Pid ||
			e.Netns != raw.Netns || e.Boot != time.Duration(raw.TimestampNs) || e.State != TCPState(raw.State) ||
			e.BytesSent != raw.BytesSent || e.BytesReceived != raw.BytesReceived || e.IPv6Socket != (raw.Family == afInet6) {
			t.Fatalf("decoded %+v from %+v", e, raw)
		}
		if e.Local != netip.AddrPortFrom(netip.AddrFrom16(raw.LocalAddr).Unmap(), raw.LocalPort) ||
			e.Remote != netip.AddrPortFrom(netip.AddrFrom16(raw.RemoteAddr).Unmap(), raw.RemotePort) {
			t.Fatalf("addresses %v %v from %+v", e.Local, e.Remote, raw)
		}
		if e.OwnerKnown != (raw.Flags&bpf.FlagOwnerKnown != 0) || e.HasBytes != (raw.Flags&bpf.FlagBytes != 0) {
			t.Fatalf("flags %#x gave owner %v, bytes %v", raw.Flags, e.OwnerKnown, e.HasBytes)
		}
		wantRole := RoleUnknown // a client flag wins over a server flag
		if raw.Flags&bpf.FlagServer != 0 {
			wantRole = RoleServer
		}
		if raw.Flags&bpf.FlagClient != 0 {
			wantRole = RoleClient
		}
		if e.Role != wantRole {
			t.Fatalf("flags %#x gave role %s, want %s", raw.Flags, e.Role, wantRole)
		}
		if len(e.Comm) > len(raw.Comm) || strings.ContainsRune(e.Comm, 0) || (!e.OwnerKnown && e.Comm != "") {
			t.Fatalf("comm %q (owner known %v)", e.Comm, e.OwnerKnown)
		}
		if e.Kind != Payload {
			if e.PayloadLen != 0 {
				t.Fatalf("%s event with %d payload bytes", e.Kind, e.PayloadLen)
			}
			return
		}
		want := min(int(raw.PayloadLen), bpf.PayloadMax)
		if e.PayloadLen != want || !bytes.Equal(e.PayloadBytes(), raw.Payload[:want]) || e.Direction != Direction(raw.Direction) {
			t.Fatalf("payload %q (%d, %d) from %q (%d, %d)", e.PayloadBytes(), e.PayloadLen, e.Direction, raw.Payload, raw.PayloadLen, raw.Direction)
		}
	})
}

func rawConnect() bpf.RawEvent {
	return bpf.RawEvent{
		LocalAddr: mapped("::ffff:10.200.0.2"), RemoteAddr: mapped("::ffff:10.200.0.3"), LocalPort: 40000, RemotePort: 8080,
		Family: 2, Type: bpf.EventConnect, Flags: bpf.FlagOwnerKnown | bpf.FlagClient, Comm: comm("curl"),
	}
}
