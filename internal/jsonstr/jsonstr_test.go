package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encodingJSON is what encoding/json writes for s.
func encodingJSON(t *testing.T, s string, escapeHTML bool) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte{'\n'}))
}

func TestAppend(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "<a href='x'>&</a>", "\x00\x01\b\f\n\r\t\x1f\x7f",
		"line\u2028para\u2029", "é 世界 🙂", "bad \xff\xfe utf-8 \xc3", "end \xe2\x80"} {
		for _, html := range []bool{true, false} {
			if got, want := string(Append(nil, s, html)), encodingJSON(t, s, html); got != want {
				t.Errorf("Append(%q, html %v) = %s, encoding/json writes %s", s, html, got, want)
			}
		}
	}
}

// FuzzAppend: Append writes what encoding/json writes, for any text, with
// and without HTML escaping, after any prefix.
func FuzzAppend(f *testing.F) {
	f.Add("<&> \u2028 \xff \"\\\b", "prefix")
	f.Fuzz(func(t *testing.T, s, prefix string) {
		for _, html := range []bool{true, false} {
			got := string(Append([]byte(prefix), s, html))
			if want := prefix + encodingJSON(t, s, html); got != want {
				t.Fatalf("Append(%q, html %v) = %s, want %s", s, html, got, want)
			}
		}
	})
}
