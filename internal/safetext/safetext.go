// Package safetext makes text that came from the input (object names,
// labels, annotations, file names, messages quoting them) safe to show to
// a person: in a terminal, a Markdown or HTML report, a diagram. Every
// writer of human-readable output passes such text through Text (or
// Truncate for a table cell); JSON, SARIF and the store keep the exact
// value.
//
// What is escaped, and how, so that a reviewer can read the original back:
//   - a rune that is not graphic and not a plain space: C0 and C1 controls,
//     DEL, bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
//     U+061C) and every other format character (zero-width spaces and
//     joiners, tags), line and paragraph separators, private-use and
//     unassigned code points. Controls that have a short Go form are
//     written so (\n, \t, \r, \a, \b, \f, \v), other ASCII controls as
//     \xNN, the rest as \uNNNN or \UNNNNNNNN;
//   - a byte that is not valid UTF-8, as \xNN;
//   - a backslash only where the reader could take it for the start of an
//     escape: before one of the letters above, before another backslash,
//     or before something that is escaped. So C:\data\logs stays as it is,
//     while a name that spells out "\x1b" is shown as "\\x1b".
//
// Quotes are not escaped (unlike strconv.Quote): ordinary text looks
// ordinary.
package safetext

import (
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CellLimit is the longest a table cell, a diagram label or a summary line
// shows a value, in runes after escaping: longer than any valid Kubernetes
// object reference (a 63-character namespace and a 253-character name with
// their kind), so only hostile or broken input is cut.
const CellLimit = 400

const ellipsis = "…"

// Text returns s with everything that could move the cursor, recolour or
// retitle a terminal, reorder the text that follows, or hide characters,
// written out visibly instead.
func Text(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		piece, n := next(s, i)
		b.WriteString(piece)
		i += n
	}
	return b.String()
}

// Lines is Text for text of several lines (a rule's description, a
// message): line feeds are kept, everything else is escaped as Text
// escapes it.
func Lines(s string) string {
	if clean(s) {
		return s
	}
	parts := strings.Split(s, "\n")
	for i, p := range parts {
		parts[i] = Text(p)
	}
	return strings.Join(parts, "\n")
}

// Message is the last guard for a message the program composed, such as
// an error, which may quote input that was escaped where it was quoted, or
// not: what could act on a terminal or hide is escaped as Text escapes it,
// while line feeds and backslashes are kept, so parts escaped at the
// source read as they did.
func Message(s string) string {
	plain := messageASCII(s)
	if plain == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:plain])
	for i := plain; i < len(s); {
		if c := s[i]; printableASCII(c) || c == '\n' {
			b.WriteByte(c)
			i++
			continue
		}
		piece, n := next(s, i)
		b.WriteString(piece)
		i += n
	}
	return b.String()
}

// Writer passes what is written through Message, for a document written
// in pieces (an HTML or Markdown report) as a last guard behind the
// escaping of each value. A rune split between two writes is held back
// until it is complete; Flush writes what is held.
type Writer struct {
	w       io.Writer
	pending []byte
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (sw *Writer) Write(p []byte) (int, error) {
	// Most of a report is ASCII that Message keeps as it is.
	if len(sw.pending) == 0 && messageASCII(p) == len(p) {
		if _, err := sw.w.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	data := append(sw.pending, p...)
	cut := len(data)
	// Hold back the start of a rune whose remaining bytes have not come yet.
	for back := 1; back < utf8.UTFMax && back <= len(data); back++ {
		if c := data[len(data)-back]; utf8.RuneStart(c) {
			if c >= utf8.RuneSelf && !utf8.FullRune(data[len(data)-back:]) {
				cut = len(data) - back
			}
			break
		}
	}
	if _, err := io.WriteString(sw.w, Message(string(data[:cut]))); err != nil {
		return 0, err
	}
	sw.pending = append(sw.pending[:0], data[cut:]...)
	return len(p), nil
}

// Flush writes what an unfinished rune left held back, escaped.
func (sw *Writer) Flush() error {
	if len(sw.pending) == 0 {
		return nil
	}
	_, err := io.WriteString(sw.w, Message(string(sw.pending)))
	sw.pending = sw.pending[:0]
	return err
}

// Truncate returns Text(s), cut to at most limit runes with an ellipsis at
// the end when it was longer. The start is kept, and an escape is never
// cut in half.
func Truncate(s string, limit int) string {
	if limit < 1 {
		limit = 1
	}
	if clean(s) && utf8.RuneCountInString(s) <= limit {
		return s
	}
	var b strings.Builder
	runes := 0
	for i := 0; i < len(s); {
		piece, n := next(s, i)
		w := utf8.RuneCountInString(piece)
		if runes+w > limit || (runes+w == limit && i+n < len(s)) {
			b.WriteString(ellipsis)
			return b.String()
		}
		b.WriteString(piece)
		runes += w
		i += n
	}
	return b.String()
}

// Cell is Truncate at CellLimit: a value from the input as a table cell or
// a diagram label shows it.
func Cell(s string) string { return Truncate(s, CellLimit) }

// Suspicious reports whether s holds a character a reader cannot see for
// what it is: a control other than tab and line feed, a bidi control or
// another format character, or bytes that are not UTF-8. In a name, a
// label or an annotation such text can make one thing display as another
// (the Trojan Source attack), so it is worth a finding in itself.
func Suspicious(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == utf8.RuneError && n == 1:
			return true
		case r == '\t' || r == '\n':
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			return true
		}
	}
	return false
}

// printableASCII reports whether c is an ASCII letter, digit, punctuation
// or space: written as itself everywhere but a backslash, which Text may
// double.
func printableASCII(c byte) bool { return c >= 0x20 && c < 0x7f }

// messageASCII is the length of the start of s that Message writes as it
// is, byte for byte: printable ASCII, backslashes and line feeds.
func messageASCII[T string | []byte](s T) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !printableASCII(c) && c != '\n' {
			return i
		}
	}
	return len(s)
}

// clean reports whether s needs no escaping, the common case, without
// allocating.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || !printableASCII(c) {
			return cleanRunes(s[i:])
		}
	}
	return true
}

// cleanRunes is clean for text beyond printable ASCII.
func cleanRunes(s string) bool {
	for _, r := range s {
		if r == '\\' || !shown(r) {
			return false
		}
	}
	return true
}

// shown reports whether r is written as itself. utf8.RuneError stands for
// an invalid byte here; a real U+FFFD is graphic and is checked by next.
func shown(r rune) bool {
	return r == ' ' || (r != utf8.RuneError && unicode.IsGraphic(r))
}

// next returns how the text starting at s[i] is written and how many bytes
// of s that covers.
func next(s string, i int) (string, int) {
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && n == 1:
		return `\x` + hex2(s[i]), 1
	case r == '\\':
		if i+1 < len(s) && startsEscape(s[i+1:]) {
			return `\\`, 1
		}
		return `\`, 1
	case r == ' ' || unicode.IsGraphic(r):
		return s[i : i+n], n
	}
	return escape(r), n
}

// startsEscape reports whether a backslash put before rest could be read as
// the start of an escape.
func startsEscape(rest string) bool {
	r, n := utf8.DecodeRuneInString(rest)
	if r == utf8.RuneError && n == 1 {
		return true
	}
	return strings.ContainsRune(`\abfnrtvxuU`, r) || !(r == ' ' || unicode.IsGraphic(r))
}

func escape(r rune) string {
	switch r {
	case '\a':
		return `\a`
	case '\b':
		return `\b`
	case '\f':
		return `\f`
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	case '\v':
		return `\v`
	}
	switch {
	case r < 0x80:
		return `\x` + hex2(byte(r))
	case r <= 0xffff:
		return `\u` + pad(strconv.FormatInt(int64(r), 16), 4)
	}
	return `\U` + pad(strconv.FormatInt(int64(r), 16), 8)
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xf]})
}

func pad(s string, n int) string {
	return strings.Repeat("0", n-len(s)) + s
}
