package flowlog

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stridemap/stridemap/discover/flows"
)

// hubble renders one "hubble observe -o json" line in the shape hubble
// prints (protojson field names), wrapped in {"flow": …} unless bare.
func hubble(bare bool, at, verdict, dir string, reply bool, src, dst string, sport, dport int, flags, srcPod, dstPod, extra string) string {
	endpoint := func(pod string) string {
		if pod == "" {
			return `{"identity":2,"labels":["reserved:world"]}`
		}
		ns, name, _ := strings.Cut(pod, "/")
		return fmt.Sprintf(`{"ID":1,"identity":100,"namespace":%q,"labels":["k8s:app=x"],"pod_name":%q,"workloads":[{"name":"x","kind":"Deployment"}]}`, ns, name)
	}
	flow := fmt.Sprintf(`{"time":%q,"uuid":"u","verdict":%q,"ethernet":{"source":"aa","destination":"bb"},"IP":{"source":%q,"destination":%q,"ipVersion":"IPv4"},`+
		`"l4":{"TCP":{"source_port":%d,"destination_port":%d,"flags":{%s}}},"source":%s,"destination":%s,"Type":"L3_L4","node_name":"kind-worker",`+
		`"event_type":{"type":4},"traffic_direction":%q,"trace_observation_point":"TO_ENDPOINT","is_reply":%v%s,"Summary":"TCP Flags"}`,
		at, verdict, src, dst, sport, dport, flags, endpoint(srcPod), endpoint(dstPod), dir, reply, extra)
	if bare {
		return flow
	}
	return fmt.Sprintf(`{"flow":%s,"node_name":"kind-worker","time":%q}`, flow, at)
}

func TestReadHubble(t *testing.T) {
	const front, cart = "10.244.1.5", "10.244.2.7"
	lines := []string{
		// frontend dials cart: the SYN leaves frontend's node (EGRESS) and
		// reaches cart's (INGRESS); the SYN-ACK is a reply; data follows.
		hubble(false, "2025-03-01T12:00:00Z", "FORWARDED", "EGRESS", false, front, cart, 40000, 7070, `"SYN":true`, "shop/frontend-1", "shop/cart-1", ""),
		hubble(false, "2025-03-01T12:00:00.001Z", "FORWARDED", "INGRESS", false, front, cart, 40000, 7070, `"SYN":true`, "shop/frontend-1", "shop/cart-1", ""),
		hubble(false, "2025-03-01T12:00:00.002Z", "FORWARDED", "INGRESS", true, cart, front, 7070, 40000, `"SYN":true,"ACK":true`, "shop/cart-1", "shop/frontend-1", ""),
		hubble(false, "2025-03-01T12:00:01Z", "FORWARDED", "EGRESS", false, front, cart, 40000, 7070, `"ACK":true,"PSH":true`, "shop/frontend-1", "shop/cart-1",
			`,"l7":{"type":"REQUEST","http":{"method":"GET","url":"http://cart/items","protocol":"HTTP/1.1"}}`),
		// A second connection, in the older, unwrapped format.
		hubble(true, "2025-03-01T12:00:05Z", "FORWARDED", "EGRESS", false, front, cart, 40001, 7070, `"SYN":true`, "shop/frontend-1", "shop/cart-1", ""),
		// A connection a policy dropped.
		hubble(false, "2025-03-01T12:00:06Z", "DROPPED", "EGRESS", false, front, "10.244.3.9", 40002, 5432, `"SYN":true`, "shop/frontend-1", "", `,"drop_reason_desc":"POLICY_DENIED"`),
		// DNS over UDP is not a TCP flow.
		`{"flow":{"time":"2025-03-01T12:00:07Z","verdict":"FORWARDED","IP":{"source":"10.244.1.5","destination":"10.96.0.10"},"l4":{"UDP":{"source_port":5353,"destination_port":53}},"traffic_direction":"EGRESS"},"node_name":"kind-worker"}`,
		`{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":3,"cpu":0},"node_name":"kind-worker"}`,
		`{"node_status":{"state_change":"NODE_CONNECTED","node_names":["kind-worker"]}}`,
		// stridemap-observer's lines may be mixed in.
		`{"flow":{"netns":1,"role":"client","local":"10.244.9.9","remote":"10.244.2.7","port":7070,"opened":1,"closed":1,"bytesSent":1,"bytesReceived":2,"firstSeen":"2025-03-01T12:00:00Z","lastSeen":"2025-03-01T12:00:00Z"}}`,
	}
	log, err := Read(strings.NewReader(strings.Join(lines, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range log.Flows {
		got = append(got, fmt.Sprintf("%s %s %s->%s:%d %s/%s opened %d failed %d %v", f.Node, f.Role, f.Local, f.Remote, f.Port, f.LocalPod, f.RemotePod, f.Opened, f.Failed, f.Protocols))
	}
	want := []string{
		" client 10.244.9.9->10.244.2.7:7070 / opened 1 failed 0 map[]",
		"kind-worker client 10.244.1.5->10.244.2.7:7070 shop/frontend-1/shop/cart-1 opened 2 failed 0 map[http:1]",
		"kind-worker client 10.244.1.5->10.244.3.9:5432 shop/frontend-1/ opened 0 failed 1 map[]",
		"kind-worker server 10.244.2.7->10.244.1.5:7070 shop/cart-1/shop/frontend-1 opened 1 failed 0 map[]",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("flows:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if len(log.Summaries) != 1 || log.Summaries[0].Events != 7 || log.Summaries[0].Dropped != 3 || log.Summaries[0].Flows != 3 ||
		!log.Summaries[0].Started.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("summary %+v", log.Summaries)
	}
	for _, f := range log.Flows {
		if f.Role == flows.RoleClient && f.Port == 7070 && f.Node != "" &&
			(!f.FirstSeen.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) || !f.LastSeen.Equal(time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC))) {
			t.Errorf("seen %v … %v", f.FirstSeen, f.LastSeen)
		}
	}
	_ = netip.Addr{}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"flow":{"role":"sideways"}}`, "line 1: unknown flow role"},
		{"\n\n{\"kind\":\"Pod\"}", "line 3: neither a stridemap nor a Hubble flow log line"},
		{`{"flow":{"verdict":"FORWARDED","time":"yesterday"}}`, "line 1: Hubble flow"},
		{`not json`, "line 1: invalid character"},
		{"\n" + strings.Repeat("x", maxLine+1), "line 2: longer than 4 MiB"},
	} {
		_, err := Read(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read(%.40q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := Read(strings.NewReader(`{"x":1}`)); !errors.Is(err, ErrUnknownLine) {
		t.Errorf("want ErrUnknownLine, got %v", err)
	}
	log, err := Read(bytes.NewReader(nil))
	if err != nil || len(log.Flows) != 0 || len(log.Summaries) != 0 {
		t.Errorf("empty input: %+v %v", log, err)
	}
}
