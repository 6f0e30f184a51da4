package flows

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// encodeLog writes every flow, listener and summary of l as flow log
// lines, in that order, as several concatenated logs would read.
func encodeLog(t *testing.T, l *Log) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range l.Flows {
		if err := enc.Encode(Line{Flow: &l.Flows[i]}); err != nil {
			t.Fatalf("flow %+v read but cannot be written: %v", l.Flows[i], err)
		}
	}
	for i := range l.Listeners {
		if err := enc.Encode(Line{Listener: &l.Listeners[i]}); err != nil {
			t.Fatalf("listener %+v read but cannot be written: %v", l.Listeners[i], err)
		}
	}
	for i := range l.Summaries {
		if err := enc.Encode(Line{Summary: &l.Summaries[i]}); err != nil {
			t.Fatalf("summary %+v read but cannot be written: %v", l.Summaries[i], err)
		}
	}
	return buf.Bytes()
}

// FuzzReadLog: any bytes read as an observer's flow log give a log or one
// line naming the line at fault; a log read is written back and read again
// unchanged, at most one record a line, and no larger than a fixed
// multiple of its input.
func FuzzReadLog(f *testing.F) {
	if data, err := os.ReadFile("../../cmd/stridemap/testdata/flows/node-a.jsonl"); err == nil {
		f.Add(data)
		for _, line := range bytes.SplitAfter(data, []byte("\n")) {
			f.Add(line)
		}
	}
	f.Add([]byte(`{"listener":{"netns":1,"addr":"[fd00::1]:8080","comm":"app","time":"2025-03-01T12:00:00+02:00"}}` + "\n"))
	f.Add([]byte(`{"summary":{"node":"n","started":"2025-03-01T12:00:00Z","duration":1000,"events":3,"kernel":"6.1","missing":[{"part":"protocol-peek","reason":"no cgroup v2"}]}}`))
	f.Add([]byte(`{"flow":{"role":"sideways"}}`))
	f.Add([]byte(`{"flow":{},"summary":{}}` + "\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		log, err := ReadLog(bytes.NewReader(data))
		if err != nil {
			if log != nil {
				t.Fatalf("both a log and an error: %v", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "line ") && !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("error is not one line naming the line: %q", msg)
			}
			return
		}
		records := len(log.Flows) + len(log.Listeners) + len(log.Summaries)
		if lines := bytes.Count(data, []byte("\n")) + 1; records > lines {
			t.Fatalf("%d records from %d lines", records, lines)
		}
		once := encodeLog(t, log)
		if len(once) > 64*len(data)+64 {
			t.Fatalf("%d bytes read back as %d", len(data), len(once))
		}
		again, err := ReadLog(bytes.NewReader(once))
		if err != nil {
			t.Fatalf("the log as written does not read: %v\n%s", err, once)
		}
		if twice := encodeLog(t, again); !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the log:\n%s\n%s", once, twice)
		}
	})
}
