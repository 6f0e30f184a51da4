package flowlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/discover/flows"
)

// encodeLog writes every flow, listener and summary of l as stridemap flow
// log lines.
func encodeLog(t *testing.T, l *flows.Log) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	var lines []flows.Line
	for i := range l.Flows {
		lines = append(lines, flows.Line{Flow: &l.Flows[i]})
	}
	for i := range l.Listeners {
		lines = append(lines, flows.Line{Listener: &l.Listeners[i]})
	}
	for i := range l.Summaries {
		lines = append(lines, flows.Line{Summary: &l.Summaries[i]})
	}
	for _, line := range lines {
		if err := enc.Encode(line); err != nil {
			t.Fatalf("read, but cannot be written: %v", err)
		}
	}
	return buf.Bytes()
}

// FuzzRead: any bytes read as a Hubble or observer flow log give a log or
// a *LineError naming a line of the input, in one line of text. Hubble
// packets fold into at most one flow each, with first seen no later than
// last seen and no more connections than packets, under one "hubble"
// summary that counts them; the log written out in stridemap's form reads
// back unchanged.
func FuzzRead(f *testing.F) {
	for _, file := range []string{"../../cmd/stridemap/testdata/flows/hubble.jsonl", "../../cmd/stridemap/testdata/flows/node-a.jsonl"} {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
			first, _, _ := bytes.Cut(data, []byte("\n"))
			f.Add(first)
		}
	}
	f.Add([]byte(hubble(true, "2025-03-01T12:00:05Z", "DROPPED", "INGRESS", true, "fd00::1", "fd00::2", 40001, 7070, `"SYN":true`, "shop/a", "", `,"l7":{"kafka":{}}`)))
	f.Add([]byte(`{"lost_events":{"num_events_lost":3}}` + "\n" + `{"node_status":{}}` + "\n" + `{"verdict":"FORWARDED"}`))
	f.Add([]byte(`{"flow":{"role":"client"},"listener":{}}` + "\n" + `{"flow":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		log, err := Read(bytes.NewReader(data))
		lines := bytes.Count(data, []byte("\n")) + 1
		if err != nil {
			var le *LineError
			switch {
			case log != nil:
				t.Fatalf("both a log and an error: %v", err)
			case errors.Is(err, bufio.ErrTooLong):
			case !errors.As(err, &le) || le.Line < 1 || le.Line > lines:
				t.Fatalf("error names no line of %d: %v", lines, err)
			case strings.Contains(err.Error(), "\n"):
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		var hubbleSummary *flows.Summary
		if n := len(log.Summaries); n > ownSummaries(data) {
			hubbleSummary = &log.Summaries[n-1]
			if hubbleSummary.Node != "hubble" {
				t.Fatalf("the summary of the Hubble lines is %+v", hubbleSummary)
			}
		}
		if hubbleSummary != nil {
			if hubbleSummary.Flows > len(log.Flows) || uint64(hubbleSummary.Flows) > hubbleSummary.Events || hubbleSummary.Duration < 0 {
				t.Fatalf("hubble summary %+v over %d flows", hubbleSummary, len(log.Flows))
			}
			for _, fl := range log.Flows[len(log.Flows)-hubbleSummary.Flows:] {
				if fl.LastSeen.Before(fl.FirstSeen) || fl.Opened+fl.Failed > hubbleSummary.Events || fl.Closed != 0 || fl.BytesSent != 0 {
					t.Fatalf("hubble flow %+v of %d packets", fl, hubbleSummary.Events)
				}
			}
		}
		if records := len(log.Flows) + len(log.Listeners) + len(log.Summaries); records > lines+1 {
			t.Fatalf("%d records from %d lines", records, lines)
		}
		once := encodeLog(t, log)
		again, err := Read(bytes.NewReader(once))
		if err != nil {
			t.Fatalf("the log as stridemap writes it does not read: %v\n%s", err, once)
		}
		if twice := encodeLog(t, again); !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the log:\n%s\n%s", once, twice)
		}
	})
}

// ownSummaries counts the summaries of the stridemap lines of a log that
// reads, as a reader that knew only stridemap's form would see them.
func ownSummaries(data []byte) int {
	n := 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		var keys, inner map[string]json.RawMessage
		if json.Unmarshal(line, &keys) != nil {
			continue
		}
		_ = json.Unmarshal(keys["flow"], &inner)
		_, summary := keys["summary"]
		_, listener := keys["listener"]
		_, role := inner["role"]
		if !summary && !listener && !role {
			continue
		}
		if own, err := flows.ReadLog(bytes.NewReader(bytes.TrimSpace(line))); err == nil {
			n += len(own.Summaries)
		}
	}
	return n
}
