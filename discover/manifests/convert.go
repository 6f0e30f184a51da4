package manifests

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/secretvalue"
)

const (
	// maxDepth bounds nesting; real manifests stay far below it, and the
	// bound keeps recursion shallow whatever the input.
	maxDepth = 1000
	// maxAliasNodes caps how many nodes a document may expand to through
	// aliases, whatever its size.
	maxAliasNodes = 1_000_000
	// aliasFactor caps alias expansion relative to the document's own size.
	aliasFactor = 10
	// minAliasNodes lets small documents use anchors freely.
	minAliasNodes = 10_000

	lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
)

// convertError is a reason a document cannot be converted, at a line of the
// stream. Its message never quotes scalar values, only keys and tags.
type convertError struct {
	line int
	code string
	msg  string
}

func (e *convertError) Error() string { return e.msg }

// objectRules are the edits made to an object while it is converted: they
// are applied on the way so the removed content never exists as JSON.
type objectRules struct {
	secret     bool   // drop data/stringData values, keep their keys under data
	namespace  string // set metadata.namespace to this when non-empty
	dropNS     bool   // remove metadata.namespace (cluster-scoped kinds)
	lineOffset int    // added to node lines: the stream line before the document
}

// converter turns one YAML node tree into the tokens of its JSON value,
// which emit receives, records the line of every field in a
// LineIndexBuilder and expands aliases within a budget. It walks each node
// once and holds no state between objects except reusable buffers.
type converter struct {
	emit  emitter
	json  jsonEmitter  // emit when the JSON text is wanted
	typed valueEmitter // emit when the object is decoded straight into a value
	num   []byte       // a number's text
	path  []byte
	// pathHash is the hash of path, extended segment by segment as the
	// walk goes down, so indexing a field hashes only its own segment.
	pathHash discover.PathHash
	lines    discover.LineIndexBuilder
	rules    objectRules

	doc    *yaml.Node         // document root, to size the alias budget
	visits int                // nodes converted, aliases expanded included
	budget int                // visit limit, set once the first alias is met
	active map[*yaml.Node]int // anchors being expanded, to catch self-reference
	depth  int

	warnings []convertError // duplicate keys and similar, reported but not fatal
}

// pair is one key/value of a mapping after merge keys are applied.
type pair struct {
	key   string
	kline int
	value *yaml.Node
}

// startDocument prepares for the objects of one document; the alias budget
// covers the whole document, List items included.
func (c *converter) startDocument(doc *yaml.Node, lineOffset int) {
	c.doc = doc
	// An object the document before failed in may have left its path:
	// messages about this document's root must not name it.
	c.path, c.pathHash = c.path[:0], discover.RootPath
	c.visits = 0
	c.budget = 0
	c.rules = objectRules{lineOffset: lineOffset}
	clear(c.active)
	c.depth = 0
	c.warnings = c.warnings[:0]
}

// startObject prepares to convert one object of the current document
// into the tokens emit receives.
func (c *converter) startObject(rules objectRules, emit emitter) {
	c.emit = emit
	c.path, c.pathHash = c.path[:0], discover.RootPath
	c.rules = rules
	clear(c.active)
	c.depth = 0
	c.warnings = c.warnings[:0]
	c.lines.Reset()
}

// field returns the value of key in mapping m, aliases followed, or nil.
func (c *converter) field(m *yaml.Node, key string) (*yaml.Node, error) {
	pairs, simple, err := c.pairs(m)
	if err != nil {
		return nil, err
	}
	var v *yaml.Node
	if simple {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := m.Content[i]
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Value == key {
				v = m.Content[i+1]
				break
			}
		}
	} else {
		for _, p := range pairs {
			if p.key == key {
				v = p.value
				break
			}
		}
	}
	if v == nil {
		return nil, nil
	}
	return c.deref(v)
}

// stringField returns the text of a scalar field of m ("" when absent or
// null). bad describes the value when it is not a string, for messages.
func (c *converter) stringField(m *yaml.Node, key string) (value, bad string, err error) {
	v, err := c.field(m, key)
	if err != nil || v == nil {
		return "", "", err
	}
	switch v.Kind {
	case yaml.MappingNode:
		return "", "a mapping", nil
	case yaml.SequenceNode:
		return "", "a list", nil
	}
	switch shortTag(v) {
	case "!!null":
		return "", "", nil
	case "!!str":
		return v.Value, "", nil
	case "!!int", "!!float":
		return v.Value, "a number", nil
	case "!!bool":
		return v.Value, "true or false", nil
	}
	return v.Value, "", nil
}

func (c *converter) line(n *yaml.Node) int { return n.Line + c.rules.lineOffset }

func (c *converter) fail(n *yaml.Node, code, format string, args ...any) *convertError {
	line := 0
	if n != nil {
		line = c.line(n)
	}
	return &convertError{line: line, code: code, msg: fmt.Sprintf(format, args...)}
}

// pathString is the current field path, for messages.
func (c *converter) pathString() string {
	if len(c.path) == 0 {
		return "the document"
	}
	return string(c.path)
}

// deref follows an alias, charging the budget and refusing self-reference.
func (c *converter) deref(n *yaml.Node) (*yaml.Node, error) {
	hops := 0
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, c.fail(n, CodeYAML, "alias at %s refers to no anchor; define the anchor before using it", c.pathString())
		}
		if c.budget == 0 {
			c.budget = aliasBudget(c.doc)
		}
		if c.active[n.Alias] > 0 {
			return nil, c.fail(n, CodeAlias, "alias at %s refers to a node that contains it; YAML aliases must not be recursive", c.pathString())
		}
		n = n.Alias
		if hops++; hops > maxDepth {
			return nil, c.fail(n, CodeAlias, "alias chain at %s is too long", c.pathString())
		}
	}
	return n, nil
}

// enter and leave mark an anchored node as being expanded.
func (c *converter) enter(n *yaml.Node) {
	if c.active == nil {
		c.active = map[*yaml.Node]int{}
	}
	c.active[n]++
}

func (c *converter) leave(n *yaml.Node) {
	if c.active[n]--; c.active[n] <= 0 {
		delete(c.active, n)
	}
}

// aliasBudget is how many nodes a document may expand to: a multiple of its
// own size, bounded both ways. Counting happens only for documents that use
// aliases, so plain manifests never pay for it.
func aliasBudget(doc *yaml.Node) int {
	own := 0
	stack := []*yaml.Node{doc}
	for len(stack) > 0 && own <= maxAliasNodes {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		own++
		if n.Kind != yaml.AliasNode {
			stack = append(stack, n.Content...)
		}
	}
	return min(max(own*aliasFactor, minAliasNodes), maxAliasNodes)
}

// value converts node n (found at c.path) to JSON.
func (c *converter) value(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		target, err := c.deref(n)
		if err != nil {
			return err
		}
		c.enter(target)
		err = c.value(target)
		c.leave(target)
		return err
	}
	c.visits++
	if c.budget > 0 && c.visits > c.budget {
		return c.fail(n, CodeAlias, "YAML aliases expand this document to more than %d nodes (an alias bomb?); it is skipped", c.budget)
	}
	if c.depth >= maxDepth {
		return c.fail(n, CodeYAML, "document nests deeper than %d levels; it is skipped", maxDepth)
	}
	c.depth++
	var err error
	switch n.Kind {
	case yaml.MappingNode:
		err = c.mapping(n)
	case yaml.SequenceNode:
		err = c.sequence(n)
	case yaml.ScalarNode:
		if n.Style&yaml.LiteralStyle != 0 && len(c.path) > 0 {
			// A literal block keeps its lines: index where they start, so
			// evidence can point into a config file held in a value.
			c.lines.AddHashed(c.pathHash.ExtendString(discover.BlockSuffix), c.line(n)+1)
		}
		err = c.scalar(n)
	default:
		err = c.fail(n, CodeYAML, "unexpected YAML node at %s", c.pathString())
	}
	c.depth--
	return err
}

func (c *converter) sequence(n *yaml.Node) error {
	c.emit.beginArray(len(n.Content))
	base, baseHash := len(c.path), c.pathHash
	for i, item := range n.Content {
		c.path = append(c.path, '[')
		c.path = strconv.AppendInt(c.path, int64(i), 10)
		c.path = append(c.path, ']')
		c.pathHash = baseHash.Extend(c.path[base:])
		c.lines.AddHashed(c.pathHash, c.line(item))
		if err := c.value(item); err != nil {
			return err
		}
		c.path, c.pathHash = c.path[:base], baseHash
	}
	c.emit.endArray()
	return nil
}

// where says which of the object-level edits applies to the mapping at the
// current path.
type where int

const (
	elsewhere where = iota
	atRoot
	atMetadata
	atAnnotations
)

func (c *converter) where() where {
	switch {
	case len(c.path) == 0 && c.depth == 1:
		return atRoot
	case string(c.path) == "metadata":
		return atMetadata
	case string(c.path) == "metadata.annotations":
		return atAnnotations
	}
	return elsewhere
}

func (c *converter) mapping(n *yaml.Node) error {
	pairs, simple, err := c.pairs(n)
	if err != nil {
		return err
	}
	at := c.where()
	c.emit.beginObject()
	base, baseHash := len(c.path), c.pathHash
	secretDone := false
	count := len(n.Content) / 2
	if !simple {
		count = len(pairs)
	}
	for i := 0; i < count; i++ {
		var p pair
		if simple {
			k, v := n.Content[2*i], n.Content[2*i+1]
			if k.Kind == yaml.AliasNode {
				if k, err = c.deref(k); err != nil {
					return err
				}
			}
			p = pair{key: k.Value, kline: c.line(k), value: v}
		} else {
			p = pairs[i]
			p.kline += c.rules.lineOffset
		}
		switch at {
		case atRoot:
			if c.rules.secret && isSecretValues(p.key) {
				if secretDone {
					continue
				}
				secretDone = true
				if err := c.secretData(n, pairs, simple); err != nil {
					return err
				}
				continue
			}
		case atMetadata:
			if p.key == "namespace" && (c.rules.dropNS || c.rules.namespace != "") {
				continue // replaced below, or removed for a cluster-scoped kind
			}
		case atAnnotations:
			if p.key == lastAppliedAnnotation {
				continue // may embed a whole Secret
			}
		}
		c.emit.key(p.key)
		c.path = appendPathKey(c.path, p.key)
		c.pathHash = baseHash.Extend(c.path[base:])
		c.lines.AddHashed(c.pathHash, p.kline)
		if err := c.value(p.value); err != nil {
			return err
		}
		c.path, c.pathHash = c.path[:base], baseHash
	}
	if at == atMetadata && c.rules.namespace != "" {
		c.emit.key("namespace")
		c.emit.str(c.rules.namespace)
	}
	c.emit.endObject()
	return nil
}

// isSecretValues reports whether a key of a Secret holds its values: data
// or stringData in any case, since the typed decoder (encoding/json)
// matches field names regardless of case, "dAtA" and "ſtringData" too.
func isSecretValues(key string) bool {
	return strings.EqualFold(key, "data") || strings.EqualFold(key, "stringData")
}

// secretData writes "data" for a Secret: the keys of data and stringData,
// every value null. The values are never converted, so they cannot reach
// the JSON, the line index or a message.
func (c *converter) secretData(n *yaml.Node, pairs []pair, simple bool) error {
	if simple {
		pairs = pairs[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, err := c.deref(n.Content[i])
			if err != nil {
				return err
			}
			pairs = append(pairs, pair{key: k.Value, kline: k.Line, value: n.Content[i+1]})
		}
	}
	// Each key once, in the order first met; a key in both data and
	// stringData holds public material only if both values do.
	type entry struct {
		key    string
		kline  int
		public bool
	}
	var entries []entry
	var index map[string]int
	for _, p := range pairs {
		if !isSecretValues(p.key) {
			continue
		}
		v, err := c.deref(p.value)
		if err != nil {
			return err
		}
		if v.Kind == yaml.ScalarNode && shortTag(v) == "!!null" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			return c.fail(v, CodeInvalid, "Secret %s must be a mapping of key names to values; fix its layout", p.key)
		}
		inner, innerSimple, err := c.pairs(v)
		if err != nil {
			return err
		}
		count := len(v.Content) / 2
		if !innerSimple {
			count = len(inner)
		}
		for i := 0; i < count; i++ {
			var key string
			var kline int
			var value *yaml.Node
			if innerSimple {
				k, err := c.deref(v.Content[2*i])
				if err != nil {
					return err
				}
				if k.Kind != yaml.ScalarNode {
					return c.fail(k, CodeYAML, "a key of Secret %s is not a scalar", p.key)
				}
				key, kline, value = k.Value, k.Line, v.Content[2*i+1]
			} else {
				key, kline, value = inner[i].key, inner[i].kline, inner[i].value
			}
			public := c.publicSecretValue(key, value, strings.EqualFold(p.key, "data"))
			if j, ok := index[key]; ok {
				entries[j].public = entries[j].public && public
				continue
			}
			if index == nil {
				index = map[string]int{}
			}
			index[key] = len(entries)
			entries = append(entries, entry{key, kline, public})
		}
	}
	c.emit.key("data")
	c.emit.beginObject()
	base := len(c.path)
	for _, e := range entries {
		c.emit.key(e.key)
		if e.public {
			c.emit.str(publicMaterialBase64)
		} else {
			c.emit.null()
		}
		c.path = append(c.path, "data"...)
		c.path = appendPathKey(c.path, e.key)
		c.lines.AddHashed(c.pathHash.Extend(c.path[base:]), e.kline+c.rules.lineOffset)
		c.path = c.path[:base]
	}
	c.emit.endObject()
	return nil
}

// publicMaterialBase64 is discover.PublicSecretValue as a Secret's data
// holds it.
var publicMaterialBase64 = base64.StdEncoding.EncodeToString([]byte(discover.PublicSecretValue))

// publicSecretValue reports whether one value of a Secret (base64 under
// data, text under stringData) holds only public material, such as a CA
// certificate, or a config file that mentions no credential. The decoded value lives only for the call.
func (c *converter) publicSecretValue(key string, n *yaml.Node, encoded bool) bool {
	v, err := c.deref(n)
	if err != nil || v.Kind != yaml.ScalarNode {
		return false
	}
	value := []byte(v.Value)
	if encoded {
		decoded, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v.Value), ""))
		if err != nil {
			return false
		}
		value = decoded
	}
	return secretvalue.IsPublicMaterial(key, value) || secretvalue.IsPlainConfig(key, value)
}

// pairs returns the key/value pairs of mapping n when they are not simply
// n.Content: when the mapping uses merge keys ("<<") or repeats a key. simple
// reports that n.Content can be used as it is, the common case, which then
// costs no allocation. Key lines in the returned pairs are node lines,
// without the stream offset.
func (c *converter) pairs(n *yaml.Node) (pairs []pair, simple bool, err error) {
	if len(n.Content)%2 != 0 {
		return nil, false, c.fail(n, CodeYAML, "malformed mapping at %s", c.pathString())
	}
	merge, dup := false, false
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.AliasNode {
			if k, err = c.deref(k); err != nil {
				return nil, false, err
			}
		}
		if k.Kind != yaml.ScalarNode {
			return nil, false, c.fail(k, CodeYAML, "mapping at %s has a key that is not a scalar; Kubernetes objects need string keys", c.pathString())
		}
		if shortTag(k) == "!!merge" {
			merge = true
		}
	}
	if !merge {
		dup = hasDuplicateKeys(n.Content)
		if !dup {
			return nil, true, nil
		}
	}
	pairs, err = c.collectPairs(n, 0)
	return pairs, false, err
}

// hasDuplicateKeys reports whether a key occurs twice among the keys of
// content (a mapping's key/value list).
func hasDuplicateKeys(content []*yaml.Node) bool {
	n := len(content) / 2
	key := func(i int) string {
		k := content[2*i]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		return k.Value
	}
	if n <= 12 {
		for i := 1; i < n; i++ {
			ki := key(i)
			for j := 0; j < i; j++ {
				if key(j) == ki {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]struct{}, n)
	for i := 0; i < n; i++ {
		k := key(i)
		if _, ok := seen[k]; ok {
			return true
		}
		seen[k] = struct{}{}
	}
	return false
}

// collectPairs applies merge keys: explicit keys win over merged ones, and
// earlier merge sources win over later ones, as the YAML merge key type
// specifies. A repeated explicit key keeps its last value, as kubectl does,
// with a warning.
func (c *converter) collectPairs(n *yaml.Node, depth int) ([]pair, error) {
	if depth > maxDepth {
		return nil, c.fail(n, CodeAlias, "merge keys at %s nest too deeply", c.pathString())
	}
	var explicit, merged []pair
	index := map[string]int{}
	var sources []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, err := c.deref(n.Content[i])
		if err != nil {
			return nil, err
		}
		c.visits++
		if c.budget > 0 && c.visits > c.budget {
			return nil, c.fail(n, CodeAlias, "YAML aliases expand this document to more than %d nodes (an alias bomb?); it is skipped", c.budget)
		}
		if k.Kind != yaml.ScalarNode {
			return nil, c.fail(k, CodeYAML, "mapping at %s has a key that is not a scalar; Kubernetes objects need string keys", c.pathString())
		}
		v := n.Content[i+1]
		if shortTag(k) == "!!merge" {
			src, err := c.deref(v)
			if err != nil {
				return nil, err
			}
			switch src.Kind {
			case yaml.MappingNode:
				sources = append(sources, src)
			case yaml.SequenceNode:
				for _, item := range src.Content {
					m, err := c.deref(item)
					if err != nil {
						return nil, err
					}
					if m.Kind != yaml.MappingNode {
						return nil, c.fail(m, CodeYAML, "merge key at %s lists something that is not a mapping", c.pathString())
					}
					sources = append(sources, m)
				}
			default:
				return nil, c.fail(src, CodeYAML, "merge key at %s must refer to a mapping or a list of mappings", c.pathString())
			}
			continue
		}
		p := pair{key: k.Value, kline: k.Line, value: v}
		if j, ok := index[p.key]; ok {
			c.warnings = append(c.warnings, convertError{
				line: k.Line + c.rules.lineOffset, code: CodeDuplicateKey,
				msg: fmt.Sprintf("key %q appears more than once in %s; the last value is used, as kubectl does — remove the other", p.key, c.pathString()),
			})
			explicit[j] = p
			continue
		}
		index[p.key] = len(explicit)
		explicit = append(explicit, p)
	}
	for _, src := range sources {
		if c.active[src] > 0 {
			return nil, c.fail(src, CodeAlias, "merge key at %s refers to a mapping that contains it", c.pathString())
		}
		c.enter(src)
		inner, err := c.collectPairs(src, depth+1)
		c.leave(src)
		if err != nil {
			return nil, err
		}
		for _, p := range inner {
			if _, ok := index[p.key]; ok {
				continue
			}
			index[p.key] = -1
			merged = append(merged, p)
		}
	}
	return append(explicit, merged...), nil
}

// scalar writes a scalar as the JSON value its YAML tag says it is. Plain
// yes/no/on/off are booleans, as in the YAML 1.1 that kubectl reads.
func (c *converter) scalar(n *yaml.Node) error {
	tag := shortTag(n)
	v := n.Value
	switch tag {
	case "!!null":
		c.emit.null()
		return nil
	case "!!bool":
		b, ok := parseBool(v)
		if !ok {
			return c.fail(n, CodeYAML, "value at %s is tagged !!bool but is not true or false; fix the value or its tag", c.pathString())
		}
		c.emit.boolean(b)
		return nil
	case "!!int":
		out, ok := appendInt(c.num[:0], v)
		if !ok {
			return c.fail(n, CodeYAML, "value at %s is tagged !!int but is not an integer; fix the value or its tag", c.pathString())
		}
		c.num = out
		c.emit.number(out)
		return nil
	case "!!float":
		plain := strings.ReplaceAll(v, "_", "")
		f, err := strconv.ParseFloat(plain, 64)
		if err != nil {
			if out, ok := appendInt(c.num[:0], v); ok { // "!!float 0x10" and friends
				c.num = out
				c.emit.number(out)
				return nil
			}
			if special(v) {
				c.emit.str(v) // .inf and .nan have no JSON form
				return nil
			}
			return c.fail(n, CodeYAML, "value at %s is tagged !!float but is not a number; fix the value or its tag", c.pathString())
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			c.emit.str(v)
			return nil
		}
		c.num = strconv.AppendFloat(c.num[:0], f, 'g', -1, 64)
		c.emit.number(c.num)
		return nil
	case "!!str":
		if n.Style == 0 {
			if b, ok := yaml11Bool(v); ok {
				c.emit.boolean(b)
				return nil
			}
		}
	}
	// Strings, timestamps, binary and custom tags keep their text.
	c.emit.str(v)
	return nil
}

// shortTag is n.ShortTag() without go-yaml's cost for the commonest plain
// scalars. For an untagged node, which is what the plain YAML reader
// builds, ShortTag runs go-yaml's resolver, which allocates for every value
// it looks at. The resolver reads no further than the first byte unless it
// is a sign, a digit, '.', '~' or the first letter of a boolean or null
// word: any other plain scalar resolves to !!str, and so does such a word
// that is not one of go-yaml's booleans or nulls. A short run of decimal
// digits without a leading zero (a port, a user ID) is an !!int, and one
// led by a number with a letter no number can hold is a !!str.
func shortTag(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode || n.Tag != "" || n.Style != 0 || n.Value == "" {
		return n.ShortTag()
	}
	v := n.Value
	if !resolvedByValue[v[0]] {
		return "!!str"
	}
	switch v[0] {
	case 'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~':
		// The resolver looks a word with such a first letter up among the
		// booleans and nulls it knows, and takes any other as a string.
		switch v {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return "!!bool"
		case "~", "null", "Null", "NULL":
			return "!!null"
		}
		return "!!str"
	}
	if len(v) <= 18 && (v[0] != '0' || len(v) == 1) && strings.Trim(v, "0123456789") == "" {
		return "!!int"
	}
	if numberLed(v) && strings.IndexFunc(v, neverInNumber) >= 0 {
		return "!!str" // a quantity ("64Mi", "250m"), a duration ("30s"), a JVM flag
	}
	return n.ShortTag()
}

// numberLed says whether v starts with a digit, or a sign and a digit:
// the plain scalars go-yaml tries as an integer, a float or a timestamp.
func numberLed(v string) bool {
	if v[0] == '+' || v[0] == '-' {
		v = v[1:]
	}
	return v != "" && v[0] >= '0' && v[0] <= '9'
}

// neverInNumber is a letter no integer (hexadecimal, octal and binary
// included: 0x1F, 0o17, 0b101), float (1e3) or timestamp (2001-12-14t21:59:43Z)
// that go-yaml resolves can hold.
func neverInNumber(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z':
		r -= 'a' - 'A'
	case r < 'A' || r > 'Z':
		return false
	}
	switch r {
	case 'A', 'B', 'C', 'D', 'E', 'F', 'O', 'T', 'X', 'Z':
		return false
	}
	return true
}

// resolvedByValue are the first bytes for which go-yaml's resolver looks at
// the rest of a plain scalar (its resolveTable).
var resolvedByValue = func() (first [256]bool) {
	for _, c := range []byte("+-0123456789.~yYnNtTfFoO") {
		first[c] = true
	}
	return first
}()

func special(v string) bool {
	switch strings.ToLower(strings.TrimLeft(v, "+-")) {
	case ".inf", ".nan":
		return true
	}
	return false
}

func parseBool(v string) (bool, bool) {
	switch v {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	return yaml11Bool(v)
}

// yaml11Bool recognises the YAML 1.1 booleans that kubectl's YAML reader
// still honours, so "enabled: yes" means what it means to the cluster.
func yaml11Bool(v string) (bool, bool) {
	switch v {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// appendInt appends the decimal form of a YAML integer (decimal, 0x, 0o,
// 0b, YAML 1.1 leading-zero octal, underscores allowed).
func appendInt(out []byte, v string) ([]byte, bool) {
	plain := strings.ReplaceAll(v, "_", "")
	if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return strconv.AppendInt(out, i, 10), true
	}
	if u, err := strconv.ParseUint(strings.TrimPrefix(plain, "+"), 0, 64); err == nil {
		return strconv.AppendUint(out, u, 10), true
	}
	return out, false
}

// appendPathKey extends a field path by key in the notation of
// discover.PathKey.
func appendPathKey(path []byte, key string) []byte {
	if key == "" || strings.ContainsAny(key, ".[]") {
		path = append(path, '[')
		path = append(path, key...)
		return append(path, ']')
	}
	if len(path) > 0 {
		path = append(path, '.')
	}
	return append(path, key...)
}
