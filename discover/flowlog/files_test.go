package flowlog

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadFile: reading a file line by line never panics; every problem
// names a line of the file, in order, or the whole file when it was left
// out; and the file without the lines named reads cleanly.
func FuzzReadFile(f *testing.F) {
	good := `{"flow":{"netns":1,"role":"client","local":"10.0.0.1","remote":"10.0.0.2","port":80,"node":"n","opened":1,"closed":1,"firstSeen":"2025-03-01T12:00:00Z","lastSeen":"2025-03-01T12:00:00Z"}}`
	f.Add([]byte(good + "\n"))
	f.Add([]byte(good + "\ngarbage\n" + good + "\n"))
	f.Add([]byte(`{"flow":{"role":"sideways"}}` + "\n"))
	f.Add([]byte(strings.Repeat("x\n", 12)))
	f.Add([]byte(hubble(false, "2025-03-01T12:00:00Z", "FORWARDED", "EGRESS", false, "10.0.0.1", "10.0.0.2", 4000, 80, `"SYN":true`, "a/b", "a/c", "") + "\n{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := bytes.Count(b, []byte("\n")) + 1
		log, problems, ok := readFile("f.jsonl", bytes.Clone(b))
		if !ok {
			if len(problems) != 1 || log != nil {
				t.Fatalf("a file left out has one problem and no log: %v", problems)
			}
			return
		}
		if log == nil || len(problems) > maxBadLines {
			t.Fatalf("log %v, %d problems", log, len(problems))
		}
		clean := b
		last := 0
		for _, p := range problems {
			if p.Location.Line <= last || p.Location.Line > lines || p.Location.File != "f.jsonl" {
				t.Fatalf("problem at line %d after %d of %d: %v", p.Location.Line, last, lines, p)
			}
			last = p.Location.Line
			clean = blankLine(clean, p.Location.Line)
		}
		if _, err := Read(bytes.NewReader(clean)); err != nil {
			t.Fatalf("without the lines named, the file still fails: %v", err)
		}
	})
}

func TestBlankLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "a\n\nc\n"},
		{"a\nb\nc", 3, "a\nb\n"},
		{"a\nb\n", 1, "\nb\n"},
		{"a\n", 5, "a\n"},
	} {
		if got := string(blankLine([]byte(tc.in), tc.n)); got != tc.want {
			t.Errorf("blankLine(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
