package safetext_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stridemap/stridemap/internal/safetext"
)

func ExampleText() {
	fmt.Println(safetext.Text("shop/\x1b]0;owned\x07cart"))
	fmt.Println(safetext.Text("invoice\u202efdp.exe"))
	fmt.Println(safetext.Text(`"quoted" C:\data\logs`))
	fmt.Println(safetext.Text(`spelled \x1b`))
	// Output:
	// shop/\x1b]0;owned\acart
	// invoice\u202efdp.exe
	// "quoted" C:\data\logs
	// spelled \\x1b
}

func TestText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "frontend-7d9f", "frontend-7d9f"},
		{"accents and CJK stay", "ünï 日本 ½", "ünï 日本 ½"},
		{"tab and newline", "a\tb\nc", `a\tb\nc`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"CSI", "\x1b[2J", `\x1b[2J`},
		{"C1 control", "a\u009bb", `a\u009bb`},
		{"bidi isolates", "\u2066x\u2069", `\u2066x\u2069`},
		{"marks", "\u200e\u200f\u061c", `\u200e\u200f\u061c`},
		{"zero width space", "a\u200bb", `a\u200bb`},
		{"line separator", "a\u2028b", `a\u2028b`},
		{"tag character", "a\U000e0041", `a\U000e0041`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"real replacement character", "a\ufffdb", "a\ufffdb"},
		{"nbsp is graphic", "a\u00a0b", "a\u00a0b"},
		{"lone backslash", `a\b\`, `a\\b\`},
		{"backslash before escaped", "a\\\x1b", `a\\\x1b`},
		{"backslash before backslash", `a\\q`, `a\\\q`},
		{"backslash before invalid byte", "a\\\xff", `a\\\xff`},
		{"path", `C:\Program Files\k8s`, `C:\Program Files\k8s`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := safetext.Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestTextIsSafeAndReversible: for inputs built from every kind of rune
// and invalid bytes, the output holds only graphic runes and spaces, and
// decoding it gives the input back, so no two inputs look alike.
func TestTextIsSafeAndReversible(t *testing.T) {
	pieces := []string{"a", " ", `\`, "x", "u", "U", "n", "1b", "\x1b", "\n", "\x00", "\x7f", "\u0085",
		"\u202e", "\u2066", "\u200b", "\ufffd", "\xff", "\xe2\x80", "é", "日", "\U0001f600", "\U000e0001", `"`}
	var walk func(prefix string, depth int)
	count := 0
	walk = func(prefix string, depth int) {
		count++
		out := safetext.Text(prefix)
		for _, r := range out {
			if r != ' ' && (!unicode.IsGraphic(r) || r == utf8.RuneError && !strings.Contains(prefix, "\ufffd")) {
				t.Fatalf("Text(%q) = %q holds %U", prefix, out, r)
			}
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Text(%q) = %q is not UTF-8", prefix, out)
		}
		if back := unescape(t, out); back != prefix {
			t.Fatalf("Text(%q) = %q reads back as %q", prefix, out, back)
		}
		if depth == 0 {
			return
		}
		for _, p := range pieces {
			walk(prefix+p, depth-1)
		}
	}
	walk("", 3)
	if count < 10000 {
		t.Fatalf("only %d inputs tried", count)
	}
}

// unescape reads Text's output back the way the package documents it.
func unescape(t *testing.T, s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		c := s[i+1]
		short := map[byte]byte{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v', '\\': '\\'}
		digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
		switch {
		case short[c] != 0:
			b.WriteByte(short[c])
			i++
		case digits > 0:
			v, err := strconv.ParseUint(s[i+2:i+2+digits], 16, 32)
			if err != nil {
				t.Fatalf("bad escape in %q: %v", s, err)
			}
			if c == 'x' {
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
			i += 1 + digits
		default:
			b.WriteByte('\\')
		}
	}
	return b.String()
}

func TestLines(t *testing.T) {
	if got, want := safetext.Lines("first line\n\x1b[2Jsecond\u202e\n"), "first line\n\\x1b[2Jsecond\\u202e\n"; got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}

func TestMessage(t *testing.T) {
	quoted := safetext.Text("bad\x1b[2J.yaml")
	in := "open " + quoted + ": line 1\nand raw \x1b]0;t\a\u202e"
	if got, want := safetext.Message(in), `open bad\x1b[2J.yaml: line 1`+"\n"+`and raw \x1b]0;t\a\u202e`; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}

// TestWriter: written in pieces of every size, a document comes out as
// Message gives it whole, runes split between writes included.
func TestWriter(t *testing.T) {
	doc := "<p>日本 \x1b]0;t\a</p>\n\u202e ünï \xff end\xe6\x97"
	want := safetext.Message(doc)
	for size := 1; size <= len(doc); size++ {
		var b strings.Builder
		w := safetext.NewWriter(&b)
		for i := 0; i < len(doc); i += size {
			if _, err := w.Write([]byte(doc[i:min(i+size, len(doc))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("in pieces of %d: %q, want %q", size, b.String(), want)
		}
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("a", 70000)
	for _, tc := range []struct {
		name, in string
		limit    int
		want     string
	}{
		{"short stays", "frontend", 10, "frontend"},
		{"exact fit", "abcde", 5, "abcde"},
		{"cut keeps the start", "abcdef", 5, "abcd…"},
		{"escape counted as shown", "ab\x1bcd", 6, "ab…"},
		{"escape fits whole", "ab\x1bcd", 8, `ab\x1bcd`},
		{"runes not bytes", "日本語日本語", 4, "日本語…"},
		{"huge name", long, 10, "aaaaaaaaa…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := safetext.Truncate(tc.in, tc.limit)
			if got != tc.want {
				t.Errorf("Truncate(%.20q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
			if n := utf8.RuneCountInString(got); n > tc.limit {
				t.Errorf("Truncate gave %d runes, over the limit %d", n, tc.limit)
			}
		})
	}
	if got := safetext.Cell(long); utf8.RuneCountInString(got) != safetext.CellLimit || !strings.HasSuffix(got, "…") {
		t.Errorf("Cell of a 70,000-character name has %d runes", utf8.RuneCountInString(got))
	}
}

func TestSuspicious(t *testing.T) {
	for in, want := range map[string]bool{
		"frontend":          false,
		"multi\nline\ttext": false,
		"ünï 日本 \U0001f600": false,
		"\x1b[2J":           true,
		"a\x00":             true,
		"a\r":               true,
		"a\u0085":           true,
		"invoice\u202efdp":  true,
		"\u2066x\u2069":     true,
		"a\u200bb":          true,
		"a\u061c":           true,
		"a\xff":             true,
	} {
		if got := safetext.Suspicious(in); got != want {
			t.Errorf("Suspicious(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"", "a", "\x1b]0;t\x07", "\u202e", `\x1b`, "\xff\\", strings.Repeat("é", 50)} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		out := safetext.Text(s)
		for _, r := range out {
			if r != ' ' && !unicode.IsGraphic(r) {
				t.Fatalf("Text(%q) holds %U", s, r)
			}
		}
		if back := unescape(t, out); back != s {
			t.Fatalf("Text(%q) = %q reads back as %q", s, out, back)
		}
		msg := safetext.Message(s)
		for _, r := range msg {
			if r != ' ' && r != '\n' && !unicode.IsGraphic(r) {
				t.Fatalf("Message(%q) holds %U", s, r)
			}
		}
		if !strings.Contains(s, `\`) && msg != safetext.Lines(s) {
			t.Fatalf("Message(%q) = %q, Lines gives %q", s, msg, safetext.Lines(s))
		}
		limit = limit%500 + 1
		if limit < 1 {
			limit += 500
		}
		// A document written in two pieces comes out as Message gives it.
		var b strings.Builder
		w := safetext.NewWriter(&b)
		cutAt := limit % (len(s) + 1)
		w.Write([]byte(s[:cutAt]))
		w.Write([]byte(s[cutAt:]))
		if err := w.Flush(); err != nil || b.String() != msg {
			t.Fatalf("Writer of %q in two pieces at %d: %q, Message gives %q (%v)", s, cutAt, b.String(), msg, err)
		}
		cut := safetext.Truncate(s, limit)
		if utf8.RuneCountInString(cut) > limit {
			t.Fatalf("Truncate(%q, %d) = %q is over the limit", s, limit, cut)
		}
		if !strings.HasPrefix(out, strings.TrimSuffix(cut, "…")) {
			t.Fatalf("Truncate(%q, %d) = %q does not start Text's %q", s, limit, cut, out)
		}
	})
}
