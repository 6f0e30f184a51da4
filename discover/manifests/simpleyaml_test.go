package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// simpleCases are documents parseSimple reads (true) or leaves to go-yaml
// (false); either way go-yaml must agree with what it reads.
var simpleCases = []struct {
	src    string
	simple bool
}{
	{"a: 1\n", true},
	{"# licence\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x # the name\n  labels: {}\ndata:\n  k: 'it''s'\n  q: \"quoted  \"\n", true},
	{"--- # a comment\na:\n  - x\n  -   y\nb:\n- k: v\n  j: w\n-   k2: v2\n    j2:\nc: []\nd:\ne: ~\n", true},
	{"a:\r\n  b: 1\r\n", true},
	{"  a: 1\n  b:\n    c: d\n", true},
	{"a: -1\nb: .inf\nc: 0x1F\nd: yes\ne: \"yes\"\nf: 2024-01-01\ng: a#b\nh: a:b\ni: null\nj: =\nk: ..x\n", true},
	{"a:\n\n  # between\n\n  b: 1\nlast:", true},
	{"a: |\n  block\n", true},
	{"a: |-\n    two\n\n    # not a comment\n      indented\nb: 1\n", true},
	{"a: |+\n  kept\n\n\nb: |\n  clipped\n\n\n# a comment\nc:\n- |\n  item\n-   |-\n    item\n", true},
	{"a: |\n  x\n   \n  y\n", false},
	{"a: |\nb: 1\n", false},
	{"a: |2\n   x\n", false},
	{"a: | # c\n  x\n", false},
	{"a: |\n  no line break", false},
	{"a:\n  b: |\n    x\n   # less indented\n  c: 1\n", false},
	{"a: >-\n  folded\n", false},
	{"a: &x 1\nb: *x\n", false},
	{"a: !!str 1\n", false},
	{"a: {b: 1}\n", false},
	{"a: [1, 2]\n", false},
	{"a: \"esc\\n\"\n", false},
	{"a: \"open\n  string\"\n", false},
	{"a: plain\n  continued\n", true},
	{"a: plain\n    continued\n\n\n   after empty lines\nb:\n- item\n  continued --x\n- --flag=:1\n", true},
	{"a: plain\n  # a comment ends it\n  continued\n", false},
	{"a: plain # a comment ends it\n  continued\n", false},
	{"a: plain\n  continued: no\n", false},
	{"a: plain\n  - dash\n", false},
	{"a:\tb\n", false},
	{"a: caf\xc3\xa9\n", false},
	{"- a\n- b\n", false},
	{"a: 1\n...\n", false},
	{"%YAML 1.2\n---\na: 1\n", false},
	{"---\n---\na: 1\n", false}, // splitDocuments cuts it in two
	{"--- a: 1\n", false},
	{"\"quoted key\": 1\n", false},
	{"<<: {a: 1}\n", false},
	{"a: b: c\n", false},
	{"a: b:\n", false},
	{"a:b\n", false},
	{"a: 1\n b: 2\n", false},
	{"a:\n  - x\n - y\n", false},
	{"a:\n  -\n    b: 1\n", false},
	{"a:\n  - - x\n", false},
	{"a: 1\na: 2\n", true}, // duplicates are the converter's to report
	{"? a\n: b\n", false},
	{"just text\n", false},
	{"", true},
	{"# only a comment\n", true},
	{"---\n# an empty document\n", true},
	{"---\n---\n", false},
}

func TestSimpleYAMLCases(t *testing.T) {
	for _, c := range simpleCases {
		accepted := checkSimple(t, []byte(c.src))
		if accepted != c.simple {
			t.Errorf("parseSimple(%q) accepted = %v, want %v", c.src, accepted, c.simple)
		}
	}
	// Nesting deeper than maxSimpleDepth is left to go-yaml.
	var deep, shallow strings.Builder
	for i := range maxSimpleDepth + 1 {
		fmt.Fprintf(&deep, "%sk:\n", strings.Repeat(" ", i))
		if i < maxSimpleDepth-1 {
			fmt.Fprintf(&shallow, "%sk:\n", strings.Repeat(" ", i))
		}
	}
	if !checkSimple(t, []byte(shallow.String())) {
		t.Errorf("parseSimple refuses %d levels", maxSimpleDepth-1)
	}
	if checkSimple(t, []byte(deep.String())) {
		t.Errorf("parseSimple reads %d levels", maxSimpleDepth+1)
	}
}

// TestSimpleYAMLOnTheCorpus: on every document of the corpus and of the
// test data, what parseSimple reads, go-yaml reads the same, and decoding
// a whole file gives the same objects and problems with and without
// parseSimple. All of Online Boutique, the benchmark's input, is simple.
func TestSimpleYAMLOnTheCorpus(t *testing.T) {
	var files []string
	for _, root := range []string{corpusDir(t), "testdata", filepath.Join("..", "..", "testdata")} {
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ext := filepath.Ext(path); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pieces, simple := 0, 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		splitDocuments(data, func(piece []byte, _ int) {
			pieces++
			if checkSimple(t, piece) {
				simple++
			}
		})
		if msg := compareDecoders(file, data); msg != "" {
			t.Errorf("%s: %s", file, msg)
		}
		if strings.HasSuffix(file, filepath.Join("online-boutique", "kubernetes-manifests.yaml")) {
			splitDocuments(data, func(piece []byte, first int) {
				if _, ok := parseSimple(piece); !ok && hasDocument(piece) {
					t.Errorf("%s:%d: parseSimple leaves this Online Boutique document to go-yaml", file, first)
				}
			})
		}
	}
	t.Logf("%d files, %d documents, %d read by parseSimple", len(files), pieces, simple)
	if simple == 0 {
		t.Error("parseSimple read no document of the corpus")
	}
}

// FuzzSimpleYAML: whatever parseSimple reads, go-yaml reads into an equal
// tree, and a stream decodes to the same objects and problems with and
// without it.
func FuzzSimpleYAML(f *testing.F) {
	for _, c := range simpleCases {
		f.Add([]byte(c.src))
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		splitDocuments(data, func(piece []byte, _ int) { checkSimple(t, piece) })
		if msg := compareDecoders("fuzz.yaml", data); msg != "" {
			t.Error(msg)
		}
		// Most mutations put a byte in that parseSimple refuses outright;
		// the same input in its alphabet reaches its grammar.
		simple := toSimpleAlphabet(data)
		splitDocuments(simple, func(piece []byte, _ int) { checkSimple(t, piece) })
		if msg := compareDecoders("fuzz.yaml", simple); msg != "" {
			t.Error(msg)
		}
	})
}

// toSimpleAlphabet replaces each byte of data that parseSimple refuses
// (outside printable ASCII, but line breaks) with one of YAML's
// indicators, a space or a letter.
func toSimpleAlphabet(data []byte) []byte {
	const alphabet = " -:#|'\"{}[]a1.\n"
	out := make([]byte, len(data))
	for i, b := range data {
		if b == '\n' || 0x20 <= b && b <= 0x7e {
			out[i] = b
			continue
		}
		out[i] = alphabet[int(b)%len(alphabet)]
	}
	return out
}

// checkSimple fails t when parseSimple reads piece into a tree other than
// go-yaml's, and reports whether it read it.
func checkSimple(t testing.TB, piece []byte) bool {
	t.Helper()
	got, ok := parseSimple(piece)
	if !ok {
		return false
	}
	docs, err := goYAMLDocuments(piece)
	if err != nil {
		t.Errorf("parseSimple read %q, which go-yaml refuses: %v", piece, err)
		return true
	}
	if got == nil {
		for _, doc := range docs {
			if len(doc.Content) != 1 || doc.Content[0].ShortTag() != "!!null" || doc.Content[0].Value != "" {
				t.Errorf("parseSimple found nothing in %q; go-yaml reads a document", piece)
			}
		}
		return true
	}
	if len(docs) != 1 {
		t.Errorf("parseSimple read %q as one document; go-yaml reads %d", piece, len(docs))
		return true
	}
	if msg := sameTree("", got, docs[0]); msg != "" {
		t.Errorf("parseSimple and go-yaml differ on %q: %s", piece, msg)
	}
	return true
}

func goYAMLDocuments(piece []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(piece))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
}

// sameTree compares what the converter reads of two trees: kinds, styles,
// resolved tags, values, lines and columns, aliases and anchors.
func sameTree(path string, got, want *yaml.Node) string {
	switch {
	case got.Kind != want.Kind:
		return fmt.Sprintf("at %q: kind %v, go-yaml %v", path, got.Kind, want.Kind)
	case got.Style != want.Style:
		return fmt.Sprintf("at %q: style %v, go-yaml %v", path, got.Style, want.Style)
	case got.Kind != yaml.DocumentNode && got.ShortTag() != want.ShortTag():
		return fmt.Sprintf("at %q: tag %s, go-yaml %s", path, got.ShortTag(), want.ShortTag())
	case got.Value != want.Value:
		return fmt.Sprintf("at %q: value %q, go-yaml %q", path, got.Value, want.Value)
	case got.Line != want.Line || got.Column != want.Column:
		return fmt.Sprintf("at %q: line %d column %d, go-yaml line %d column %d", path, got.Line, got.Column, want.Line, want.Column)
	case got.Alias != nil || want.Alias != nil || got.Anchor != want.Anchor:
		return fmt.Sprintf("at %q: an alias or anchor", path)
	case len(got.Content) != len(want.Content):
		return fmt.Sprintf("at %q: %d children, go-yaml %d", path, len(got.Content), len(want.Content))
	}
	for i := range got.Content {
		if msg := sameTree(fmt.Sprintf("%s/%d", path, i), got.Content[i], want.Content[i]); msg != "" {
			return msg
		}
	}
	return ""
}

// compareDecoders decodes data with and without parseSimple and says how
// the objects or problems differ, or "".
func compareDecoders(file string, data []byte) string {
	simple, goYAML := decoder{}, decoder{goYAMLOnly: true}
	objs, probs := simple.decode(file, data, "")
	wantObjs, wantProbs := goYAML.decode(file, data, "")
	if !reflect.DeepEqual(probs, wantProbs) {
		return fmt.Sprintf("problems differ:\n%v\ngo-yaml alone:\n%v", probs, wantProbs)
	}
	if len(objs) != len(wantObjs) {
		return fmt.Sprintf("%d objects, go-yaml alone %d", len(objs), len(wantObjs))
	}
	for i := range objs {
		if !reflect.DeepEqual(objs[i], wantObjs[i]) {
			return fmt.Sprintf("object %d (%s) differs from go-yaml's", i, wantObjs[i].Ref())
		}
	}
	return ""
}

// hasDocument reports whether piece holds more than comments and markers.
func hasDocument(piece []byte) bool {
	for _, l := range bytes.Split(piece, []byte("\n")) {
		if hasContent(l) && !isSeparator(l) {
			return true
		}
	}
	return false
}

// BenchmarkSimpleYAML parses the documents of Online Boutique's manifest
// with parseSimple and with go-yaml.
func BenchmarkSimpleYAML(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corpusDir(b), "online-boutique", "kubernetes-manifests.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	var pieces [][]byte
	splitDocuments(data, func(piece []byte, _ int) { pieces = append(pieces, piece) })
	b.Run("parseSimple", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var p simpleParser
		for b.Loop() {
			for _, piece := range pieces {
				if _, ok := p.parse(piece); !ok && hasDocument(piece) {
					if _, err := goYAMLDocuments(piece); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	})
	b.Run("go-yaml", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			for _, piece := range pieces {
				if _, err := goYAMLDocuments(piece); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestShortTagAgreesWithGoYAML checks the converter's shortcut for untagged
// plain scalars, the nodes the plain reader builds, against go-yaml's own
// resolution: every first byte, alone and followed by text that would make
// a number, a boolean or a timestamp.
func TestShortTagAgreesWithGoYAML(t *testing.T) {
	suffixes := []string{"", "x", "0", "1.5", "rue", "RUE", "ull", "ULL", "alse", "ALSE", "es", "ES", "o", "ff", "FF", "n", "inf", "2026-01-02", "_000", "e3", "x1F", " a", "rue ", "ullx"}
	values := []string{"", "~", "<<", "true", "False", "null", "yes", "TRUE", "FALSE", "Null", "NULL", "nULL", "tRUE", "~~", "y", "n", "on", "ON", "no", "No", "Off", ".inf", "-.Inf", ".nan", "0x1F", "0o17", "0b101", "1_000", "1e3", "2026-12-06", "2026-12-06T10:00:00Z", "+1", "-0", "8080", "a8080", "ǅ", "\xff",
		"0", "00", "07", "08", "123456789012345678", "1234567890123456789", "9223372036854775807", "9223372036854775808", "99999999999999999999", "1 2", "12:30",
		"64Mi", "100m", "1Gi", "500M", "2Ki", "1e3Mi", "0x1Mi", "1d", "1h30m", "30s", "-Xmx512m", "+.inf", "-.nan", "-1_0", "1_000Mi", "0xFF", "0xfg", "0XAB", "0O17", "0B11",
		"2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10", "2001-12-14T21:59:43Z", "2001-12-14z", "1T", "1t", "1e", "1E+3", "-1e-3", "1.5e3x", "9ℵ", "1ǅ"}
	// every string of up to three characters that starts with a sign or a
	// digit, over the characters numbers, timestamps and quantities use
	const alphabet = "0123456789+-._: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for _, a := range "+-0123456789" {
		values = append(values, string(a))
		for _, b := range alphabet {
			values = append(values, string(a)+string(b))
			for _, c := range alphabet {
				values = append(values, string(a)+string(b)+string(c))
			}
		}
	}
	for c := range 256 {
		for _, suffix := range suffixes {
			values = append(values, string([]byte{byte(c)})+suffix)
		}
	}
	for _, v := range values {
		for _, style := range []yaml.Style{0, yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle, yaml.LiteralStyle} {
			n := &yaml.Node{Kind: yaml.ScalarNode, Style: style, Value: v}
			if got, want := shortTag(n), n.ShortTag(); got != want {
				t.Errorf("shortTag(%q, style %d) = %s, go-yaml resolves %s", v, style, got, want)
			}
		}
	}
}
