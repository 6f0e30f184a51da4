package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/stridemap/stridemap/discover"
)

// Problem codes, stable so that CI scripts and tests can match on them.
const (
	CodeYAML          = "yaml"          // the YAML (or JSON) does not parse
	CodeAlias         = "alias"         // aliases expand too far or refer to themselves
	CodeNotObject     = "not-object"    // a document that is no Kubernetes object, or a binary file
	CodeNoName        = "no-name"       // an object without metadata.name
	CodeUnknownKind   = "unknown-kind"  // a kind that its built-in API group does not have
	CodeInvalid       = "invalid"       // a field value of the wrong type for its kind
	CodeDuplicate     = "duplicate"     // the same object defined twice
	CodeDuplicateKey  = "duplicate-key" // a mapping key repeated within one mapping
	CodeTooLarge      = "too-large"     // a file or stdin over Request.MaxFileBytes
	CodeRead          = "read"          // a path that is missing or cannot be read
	CodeSymlinkLoop   = "symlink-loop"  // a directory symlink leading back to an ancestor
	CodeKustomize     = "kustomize"     // kustomize could not build a directory
	CodeKustomization = "kustomization" // a kustomization file met while reading plain manifests
)

// Decode reads one stream (one file's content) named file: every YAML or
// JSON document in it, with List kinds expanded into their items. It never
// fails as a whole: documents it cannot use become Problems and the others
// are still returned, in document order. Namespaced objects without a
// namespace get defaultNamespace ("" means "default"). Exposed for tests and
// fuzzing; Collect is the entry point for reading sources.
func Decode(file string, data []byte, defaultNamespace string) ([]*discover.Object, []discover.Problem) {
	d := decoder{maps: NewSharedMaps()}
	return d.decode(file, data, defaultNamespace)
}

// decoder holds the buffers one goroutine reuses across streams.
type decoder struct {
	// goYAMLOnly reads every document with go-yaml, never parseSimple:
	// tests compare the two ways.
	goYAMLOnly bool
	// viaJSON decodes every object through its JSON text and
	// encoding/json, never the value emitter: tests compare the two ways.
	viaJSON bool
	// gaveUp counts the objects the value emitter left to encoding/json;
	// panicked is the last panic of the emitter, for tests to report.
	gaveUp   int
	panicked string
	// maps, when set, shares small maps between the objects decoded.
	maps *SharedMaps
	// workers, when above zero, is how many goroutines decode a stream
	// of parallelBytes or more (GOMAXPROCS when zero); tests set it.
	workers   int
	simple    simpleParser
	conv      converter
	file      string
	namespace string
	objs      []*discover.Object
	probs     []discover.Problem
}

// parallelBytes is the size from which the documents of one stream are
// decoded on all cores. A directory's files are already read in parallel,
// but one large stream (a cluster's dump, helm template's output piped
// in) would otherwise be decoded on one core.
const parallelBytes = 1 << 20

func (d *decoder) decode(file string, data []byte, defaultNamespace string) ([]*discover.Object, []discover.Problem) {
	d.file = file
	d.namespace = defaultNamespace
	if d.namespace == "" {
		d.namespace = "default"
	}
	d.objs, d.probs = nil, nil
	if isBinary(data) {
		d.problem(discover.SeverityError, CodeNotObject, 0, "",
			"file is binary, not YAML or JSON; leave it out of the paths to scan")
		return d.objs, d.probs
	}
	// Each document is read on its own, so that one bad document does not
	// hide the ones after it: by parseSimple when it is written in the
	// simple part of YAML most manifests are, else by go-yaml.
	workers := d.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if len(data) < parallelBytes || workers < 2 {
		splitDocuments(data, d.piece)
		d.simple.release()
		return d.objs, d.probs
	}
	var pieces []docPiece
	splitDocuments(data, func(data []byte, first int) { pieces = append(pieces, docPiece{data, first}) })
	d.decodeParallel(pieces, workers, parallelGroupBytes)
	return d.objs, d.probs
}

// docPiece is one document of a stream, or several go-yaml reads together,
// and the line it starts on (see splitDocuments).
type docPiece struct {
	data  []byte
	first int
}

// piece decodes the documents of one piece of the stream.
func (d *decoder) piece(data []byte, first int) {
	if doc, ok := d.simple.parse(data); ok && !d.goYAMLOnly {
		if doc != nil {
			d.document(doc, first-1)
		}
		return
	}
	d.chunk(data, first)
}

// parallelGroupBytes is about how much of a stream one goroutine takes at
// a time: small enough that the cores finish together, large enough that
// handing out groups costs nothing.
const parallelGroupBytes = 256 << 10

// decodeParallel decodes pieces on workers goroutines, each with its own
// decoder, taking consecutive pieces of about groupBytes at a time. The
// objects and problems stay in stream order, as a sequential decode gives
// them: documents do not depend on one another.
func (d *decoder) decodeParallel(pieces []docPiece, workers, groupBytes int) {
	// Group g is pieces [bounds[g], bounds[g+1]).
	bounds := []int{0}
	size := 0
	for i, p := range pieces {
		size += len(p.data)
		if size >= groupBytes && i+1 < len(pieces) {
			bounds = append(bounds, i+1)
			size = 0
		}
	}
	bounds = append(bounds, len(pieces))
	type decoded struct {
		objs  []*discover.Object
		probs []discover.Problem
	}
	groups := make([]decoded, len(bounds)-1)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(groups)) {
		wg.Go(func() {
			w := decoder{goYAMLOnly: d.goYAMLOnly, viaJSON: d.viaJSON, maps: d.maps, file: d.file, namespace: d.namespace}
			for {
				g := int(next.Add(1)) - 1
				if g >= len(groups) {
					break
				}
				w.objs, w.probs = nil, nil
				for _, p := range pieces[bounds[g]:bounds[g+1]] {
					w.piece(p.data, p.first)
				}
				groups[g] = decoded{w.objs, w.probs}
			}
			w.simple.release()
		})
	}
	wg.Wait()
	objs, probs := 0, 0
	for _, g := range groups {
		objs, probs = objs+len(g.objs), probs+len(g.probs)
	}
	if objs > 0 {
		d.objs = make([]*discover.Object, 0, objs)
	}
	for _, g := range groups {
		d.objs = append(d.objs, g.objs...)
		d.probs = append(d.probs, g.probs...)
	}
}

// chunk decodes the documents of one piece of the stream, which starts at
// line first, with go-yaml, up to the first error in it.
func (d *decoder) chunk(data []byte, first int) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			line, msg := yamlErrorLine(err, data)
			if line == 0 {
				line = 1
			}
			d.problem(discover.SeverityError, CodeYAML, line+first-1, "",
				"invalid YAML: %s; fix the syntax (documents after the next '---' are still read)", msg)
			return
		}
		d.document(&doc, first-1)
	}
}

var (
	yamlLineRE   = regexp.MustCompile(`^yaml: line (\d+): `)
	yamlAnchorRE = regexp.MustCompile(`^unknown anchor '([^']*)' referenced$`)
)

// yamlParserErrors are the go-yaml messages raised by its parser rather
// than its scanner. go-yaml reports their line 0-based.
var yamlParserErrors = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
}

// yamlErrorLine splits a go-yaml error about piece into the 1-based line
// (0 when unknown) and the message.
func yamlErrorLine(err error, piece []byte) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg = err.Error()[len(m[0]):]
		if yamlParserErrors[msg] {
			line++
		}
		return line, msg
	}
	if m := yamlAnchorRE.FindStringSubmatch(msg); m != nil {
		// go-yaml gives no line here: find the alias itself.
		if i := bytes.Index(piece, []byte("*"+m[1])); i >= 0 {
			return 1 + bytes.Count(piece[:i], []byte("\n")), msg
		}
	}
	return 0, msg
}

func (d *decoder) problem(sev discover.Severity, code string, line int, object, format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = oneLine(s)
		}
	}
	d.probs = append(d.probs, discover.Problem{
		Severity: sev,
		Code:     code,
		Location: discover.Location{File: d.file, Line: line},
		Object:   oneLine(object),
		Message:  fmt.Sprintf(format, args...),
	})
}

// oneLine is text from the input as a problem quotes it: as it is, or
// quoted with Go's escapes when it holds a line break or another control
// character (a kind written over two lines), so that the problem stays
// one line and says exactly what the input held.
func oneLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// document handles one YAML document; offset is the stream line before the
// piece the document was parsed from.
func (d *decoder) document(doc *yaml.Node, offset int) {
	d.conv.startDocument(doc, offset)
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = root.Content[0]
	}
	root, err := d.conv.deref(root)
	if err != nil {
		d.convertProblem(err, "")
		return
	}
	line := root.Line + offset
	switch root.Kind {
	case yaml.MappingNode:
		if len(root.Content) == 0 {
			return // "{}" is as empty as an empty document
		}
	case yaml.ScalarNode:
		if shortTag(root) == "!!null" {
			return // an empty document
		}
		d.problem(discover.SeverityError, CodeNotObject, line, "",
			"document is plain text, not a Kubernetes object; leave this file out of the scan or fix it")
		return
	case yaml.SequenceNode:
		d.problem(discover.SeverityError, CodeNotObject, line, "",
			"document is a list, not a Kubernetes object; put the objects in separate documents or in a kind: List")
		return
	default:
		d.problem(discover.SeverityError, CodeNotObject, line, "", "document is not a Kubernetes object")
		return
	}

	apiVersion, _, err := d.conv.stringField(root, "apiVersion")
	if err == nil {
		var kind string
		kind, _, err = d.conv.stringField(root, "kind")
		if err == nil && isListKind(kind) {
			items, ierr := d.conv.field(root, "items")
			if ierr != nil || items != nil {
				d.list(items, ierr, apiVersion, kind)
				return
			}
			if kind == "List" {
				return // a List without items is empty
			}
		}
	}
	d.object(root, "", "")
}

// isListKind reports whether kind names a list: List, or a typed list such
// as DeploymentList.
func isListKind(kind string) bool { return strings.HasSuffix(kind, "List") }

// list expands the items of a List (or of a typed list such as
// DeploymentList), each item an object at its own line.
func (d *decoder) list(items *yaml.Node, err error, apiVersion, kind string) {
	if err != nil {
		d.convertProblem(err, "")
		return
	}
	if items.Kind == yaml.ScalarNode && shortTag(items) == "!!null" {
		return
	}
	if items.Kind != yaml.SequenceNode {
		d.problem(discover.SeverityError, CodeNotObject, items.Line+d.conv.rules.lineOffset, "",
			"items of this %s is not a list; a List holds its objects under items", kind)
		return
	}
	// Items of a typed list may leave out apiVersion and kind.
	itemKind := ""
	if kind != "List" {
		itemKind = strings.TrimSuffix(kind, "List")
	}
	for i, item := range items.Content {
		it, err := d.conv.deref(item)
		if err != nil {
			d.convertProblem(err, "")
			return
		}
		if it.Kind != yaml.MappingNode {
			d.problem(discover.SeverityError, CodeNotObject, it.Line+d.conv.rules.lineOffset, "",
				"item %d of this %s is not a mapping, so not a Kubernetes object", i, kind)
			continue
		}
		if itemKind != "" {
			d.object(it, apiVersion, itemKind)
		} else {
			d.object(it, "", "")
		}
	}
}

// object converts one object mapping. defaultAPIVersion and defaultKind
// fill in for items of typed lists.
func (d *decoder) object(n *yaml.Node, defaultAPIVersion, defaultKind string) {
	c := &d.conv
	line := n.Line + c.rules.lineOffset
	apiVersion, _, err := c.stringField(n, "apiVersion")
	if err != nil {
		d.convertProblem(err, "")
		return
	}
	kind, _, err := c.stringField(n, "kind")
	if err != nil {
		d.convertProblem(err, "")
		return
	}
	if apiVersion == "" && kind == "" && defaultKind != "" {
		apiVersion, kind = defaultAPIVersion, defaultKind
	}
	switch {
	case apiVersion == "" && kind == "":
		d.problem(discover.SeverityError, CodeNotObject, line, "",
			"document has no apiVersion and no kind, so it is not a Kubernetes object; add them or leave this file out of the scan")
		return
	case apiVersion == "":
		d.problem(discover.SeverityError, CodeNotObject, line, kind,
			"document has a kind but no apiVersion; add the apiVersion of %s", kind)
		return
	case kind == "":
		d.problem(discover.SeverityError, CodeNotObject, line, "",
			"document has an apiVersion but no kind; add the kind")
		return
	}
	if groupOf(apiVersion) == "kustomize.config.k8s.io" {
		d.problem(discover.SeverityWarning, CodeKustomization, line, kind,
			"a kustomization is not an object and is skipped; scan its directory with -k to render it")
		return
	}

	var name, generateName, namespace string
	meta, err := c.field(n, "metadata")
	if err == nil && meta != nil && meta.Kind == yaml.MappingNode {
		var bad string
		if name, bad, err = c.stringField(meta, "name"); err == nil && bad != "" {
			d.problem(discover.SeverityError, CodeInvalid, line, kind,
				"metadata.name is %s, not a string; quote it", bad)
			return
		}
		if err == nil {
			generateName, _, err = c.stringField(meta, "generateName")
		}
		if err == nil {
			if namespace, bad, err = c.stringField(meta, "namespace"); err == nil && bad != "" {
				d.problem(discover.SeverityError, CodeInvalid, line, kind+" "+name,
					"metadata.namespace is %s, not a string; quote it", bad)
				return
			}
		}
	}
	if err != nil {
		d.convertProblem(err, kind)
		return
	}
	if name == "" {
		if generateName != "" {
			d.problem(discover.SeverityWarning, CodeNoName, line, kind+" "+generateName+"*",
				"object has only metadata.generateName; its name is chosen at creation, so generateName objects are skipped")
			return
		}
		d.problem(discover.SeverityError, CodeNoName, line, kind,
			"object has no metadata.name; give it a name")
		return
	}

	obj := &discover.Object{
		APIVersion: apiVersion,
		Kind:       kind,
		Name:       name,
		Location:   discover.Location{File: d.file, Line: line},
	}
	rules := objectRules{
		secret:     kind == "Secret",
		lineOffset: c.rules.lineOffset,
	}
	if isClusterScoped(apiVersion, kind) {
		rules.dropNS = namespace != ""
	} else {
		obj.Namespace = namespace
		if namespace == "" {
			obj.Namespace = d.namespace
			rules.namespace = d.namespace
		}
	}
	ref := obj.Ref()

	check := checkKind(apiVersion, kind)
	if check == kindUnknown {
		d.problem(discover.SeverityWarning, CodeUnknownKind, line, ref,
			"apiVersion %s has no kind %s, so the object is skipped; check the spelling of kind and apiVersion", apiVersion, kind)
		return
	}

	var typed any
	if check == kindTyped {
		typed = typedKinds[apiVersion+" "+kind]()
	} else {
		typed = &map[string]any{}
	}
	c.typed.start(reflect.ValueOf(typed))
	c.typed.maps = d.maps
	c.startObject(rules, &c.typed)
	// The walk through JSON, if needed, counts aliases from where this
	// one starts: the document's budget is spent once.
	visits, budget := c.visits, c.budget
	err = d.convertStraight(n)
	for _, w := range c.warnings {
		d.problem(discover.SeverityWarning, w.code, w.line, ref, "%s", w.msg)
	}
	if err == nil && !c.typed.ok() {
		d.gaveUp++
	}
	if err == nil && (!c.typed.ok() || d.viaJSON) {
		// Decode the object through its JSON text, with encoding/json's
		// every rule and message.
		c.json.reset()
		c.startObject(rules, &c.json)
		c.visits, c.budget = visits, budget
		err = c.value(n)
		if err == nil {
			typed = d.unmarshal(obj, rules, c.json.out, check == kindTyped, apiVersion+" "+kind)
		}
	}
	if err != nil {
		c.lines.Reset()
		d.convertProblem(err, ref)
		return
	}
	if typed == nil {
		return
	}
	obj.Lines = c.lines.Build()
	if check == kindTyped {
		obj.Typed = typed
	} else {
		obj.Fields = *typed.(*map[string]any)
	}
	d.objs = append(d.objs, obj)
}

// convertStraight converts object n into the value emitter. A panic in
// the emitter, which no input should cause, leaves it failed: the object
// is then decoded through JSON like any the emitter gives up on, and
// panicked tells tests.
func (d *decoder) convertStraight(n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			d.conv.typed.fail()
			d.panicked = fmt.Sprint(r)
			err = nil
		}
	}()
	return d.conv.value(n)
}

// unmarshal decodes the JSON text of an object through encoding/json: a
// new value of its kind's type when typed, else a map. It reports the
// problem and returns nil when the text does not fit the type.
func (d *decoder) unmarshal(obj *discover.Object, rules objectRules, text []byte, typed bool, typeKey string) any {
	ref := obj.Ref()
	if typed {
		value := typedKinds[typeKey]()
		if err := json.Unmarshal(text, value); err != nil {
			field, msg := describeDecodeError(err, rules.secret)
			at := obj.Location.Line
			if field != "" {
				obj.Lines = d.conv.lines.Build()
				at = obj.LineOf(field)
			}
			d.problem(discover.SeverityError, CodeInvalid, at, ref, "%s", msg)
			return nil
		}
		return value
	}
	fields := map[string]any{}
	if err := json.Unmarshal(text, &fields); err != nil {
		d.problem(discover.SeverityError, CodeInvalid, obj.Location.Line, ref,
			"cannot read the object as JSON; check its syntax")
		return nil
	}
	return &fields
}

// convertProblem reports a conversion failure of the object named ref.
func (d *decoder) convertProblem(err error, ref string) {
	var ce *convertError
	if errors.As(err, &ce) {
		d.problem(discover.SeverityError, ce.code, ce.line, ref, "%s", ce.msg)
		return
	}
	d.problem(discover.SeverityError, CodeYAML, 0, ref, "%v", err)
}

// describeDecodeError turns an encoding/json error from decoding into a
// k8s.io/api type into a message a manifest author can act on, and the field
// path it concerns when known. It never quotes the offending value: for a
// Secret that could be the secret itself.
func describeDecodeError(err error, secret bool) (field, msg string) {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		got, _, _ := strings.Cut(te.Value, " ") // "number 1.5" → "number"
		want, have := describeType(te.Type), article(got)
		if got == "number" && want == "an integer" {
			// A fraction, or out of range: say which range without the value.
			want, have = "a whole number", "a fraction or a number out of range of "+te.Type.String()
		}
		if te.Field == "" {
			return "", fmt.Sprintf("a value is %s where %s is expected; fix the value", have, want)
		}
		return te.Field, fmt.Sprintf("field %s must be %s, not %s; fix the value", te.Field, want, have)
	}
	if secret {
		return "", "the object does not match the Secret schema; check its fields"
	}
	// Errors of the apimachinery value types may quote the value; name the
	// kind of value instead.
	var pe *time.ParseError
	msg = strings.TrimPrefix(err.Error(), "json: ")
	switch {
	case strings.HasPrefix(msg, "quantities must match"):
		return "", "a resource quantity is not valid; write it like 500m, 2, 128Mi or 1Gi"
	case errors.As(err, &pe):
		return "", "a timestamp is not valid; write it in RFC 3339 form, like 2024-01-31T12:00:00Z"
	case strings.HasPrefix(msg, "time: "):
		return "", "a duration is not valid; write it like 30s, 5m or 1h30m"
	}
	return "", "invalid value: " + firstLine(msg) + "; fix the value"
}

// article names an encoding/json value type the way a YAML author thinks of it.
func article(jsonType string) string {
	switch jsonType {
	case "array":
		return "a list"
	case "object":
		return "a mapping"
	case "number":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	}
	return "a value of another type"
}

func describeType(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return t.String()
}

// isBinary reports whether data looks like no text format at all: it has a
// NUL byte or invalid UTF-8 near the start.
func isBinary(data []byte) bool {
	head := data[:min(len(data), 8192)]
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	if len(head) < len(data) {
		// Drop the last rune of head: the cut may have split it.
		for j := len(head) - 1; j >= 0 && j >= len(head)-utf8.UTFMax; j-- {
			if utf8.RuneStart(head[j]) {
				head = head[:j]
				break
			}
		}
	}
	return !utf8.Valid(head)
}

// splitDocuments cuts a YAML stream at its "---" lines, so one malformed
// document does not hide the ones after it, and calls fn with each piece and
// the line it starts on. Comments, blank lines and directives before the
// first "---" of a piece are joined to it; a "---" after another starts a
// piece, even with nothing between them but comments (an empty document).
func splitDocuments(data []byte, fn func(piece []byte, firstLine int)) {
	start, startLine := 0, 1
	content := false
	marked := false // the piece has its "---"
	line := 1
	for pos := 0; pos < len(data); line++ {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		}
		l := data[pos:next]
		if isSeparator(l) {
			if content || marked {
				fn(data[start:pos], startLine)
				start, startLine = pos, line
				content = false
			}
			marked = true
			// A separator may carry content: "--- {a: 1}" or "--- |".
			rest := bytes.TrimSpace(l[3:])
			if len(rest) > 0 && rest[0] != '#' {
				content = true
			}
		} else if !content && hasContent(l) {
			content = true
		}
		pos = next
	}
	if start < len(data) {
		fn(data[start:], startLine)
	}
}

func isSeparator(l []byte) bool {
	if len(l) < 3 || l[0] != '-' || l[1] != '-' || l[2] != '-' {
		return false
	}
	if len(l) == 3 {
		return true
	}
	switch l[3] {
	case ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func hasContent(l []byte) bool {
	if len(l) > 0 && l[0] == '%' {
		return false // a directive belongs to the document after it
	}
	t := bytes.TrimSpace(l)
	return len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("..."))
}
