package manifests

import (
	"bytes"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Most manifests are written in a small part of YAML: block mappings and
// sequences, plain scalars, quoted one-line scalars, literal blocks ("|"),
// comments, "{}" and "[]". go-yaml reads it at 15–20 MB/s, about a sixth
// of a large scan's CPU time, through a general scanner and parser.
// parseSimple reads only that part, line by line, into the tree go-yaml
// builds, and gives up on anything else (anchors, tags, folded blocks,
// quoted scalars over several lines, flow collections with content, tabs,
// non-ASCII text, …), which go-yaml then reads as before. TestSimpleYAMLCases,
// TestSimpleYAMLOnTheCorpus and FuzzSimpleYAML hold that whatever it
// reads, go-yaml reads into an equal tree, and the objects decoded are
// the same.
//
// Nodes carry no Tag: yaml.Node.ShortTag resolves an untagged node exactly
// as go-yaml's parser resolves the Tag it sets, and the converter reads
// tags only through ShortTag.

// maxSimpleDepth bounds how deeply parseSimple nests: real manifests stay
// far below it, and deeper documents go to go-yaml and its own limits.
const maxSimpleDepth = 64

// maxSimpleKey is the longest key parseSimple reads: go-yaml refuses an
// implicit key over 1024 characters.
const maxSimpleKey = 1000

// simpleLine is one line of a piece: its number (from 1), its indentation
// in spaces, its text after the indentation without trailing spaces, and
// the whole line without its line break, which a literal block keeps.
// A blank line holds nothing but spaces or a comment.
type simpleLine struct {
	num    int
	indent int
	text   []byte
	raw    []byte
	blank  bool
	// broken is set when a line break ends the line.
	broken bool
}

// simpleParser reads documents of simple YAML, one at a time; a decoder
// reuses one for its lines.
type simpleParser struct {
	lines []simpleLine
	pos   int
	depth int
	// nodes and ptrs are where the nodes of a document and their Content
	// come from. Once the decoder has converted a document nothing points
	// into its tree, so the next document reuses them.
	nodes []yaml.Node
	ptrs  []*yaml.Node
	// items gathers the children of the mapping or list being read at
	// each depth, copied into ptrs once it is complete.
	items [][]*yaml.Node
	// keys holds the short keys read so far, which repeat from one
	// manifest to the next, to allocate each once. Values are not kept:
	// they may be secrets.
	keys map[string]string
}

const (
	minArena = 1024
	// maxKeptArena is the most nodes (and Content pointers) kept from one
	// document for the next: a huge document's arrays are let go.
	maxKeptArena  = 1 << 16
	maxInternLen  = 64
	maxInternKeys = 4096
)

// node returns a new node with n's fields.
func (p *simpleParser) node(n yaml.Node) *yaml.Node {
	if len(p.nodes) == cap(p.nodes) {
		// The nodes handed out stay where they are; the next document
		// starts in this larger array.
		p.nodes = make([]yaml.Node, 0, max(2*cap(p.nodes), minArena))
	}
	p.nodes = append(p.nodes, n)
	return &p.nodes[len(p.nodes)-1]
}

// content returns a copy of items for a node's Content.
func (p *simpleParser) content(items []*yaml.Node) []*yaml.Node {
	if len(items) == 0 {
		return nil
	}
	if cap(p.ptrs)-len(p.ptrs) < len(items) {
		p.ptrs = make([]*yaml.Node, 0, max(2*cap(p.ptrs), minArena, len(items)))
	}
	start := len(p.ptrs)
	p.ptrs = append(p.ptrs, items...)
	return p.ptrs[start:len(p.ptrs):len(p.ptrs)]
}

// key returns key as a string, a short one shared with its earlier copies.
func (p *simpleParser) key(key []byte) string {
	if len(key) > maxInternLen {
		return string(key)
	}
	if s, ok := p.keys[string(key)]; ok {
		return s
	}
	s := string(key)
	if p.keys == nil {
		p.keys = map[string]string{}
	}
	if len(p.keys) < maxInternKeys {
		p.keys[s] = s
	}
	return s
}

// parseSimple parses piece, one document as splitDocuments cuts them, into
// the document node go-yaml would give, or nil for a piece of nothing but
// comments and a "---" (go-yaml reads it as an empty document, or none); ok
// is false when the piece is outside the simple part of YAML or its
// document is not a mapping.
func parseSimple(piece []byte) (doc *yaml.Node, ok bool) {
	var p simpleParser
	return p.parse(piece)
}

// release lets go of the last stream read: its lines point into it.
func (p *simpleParser) release() {
	clear(p.lines[:cap(p.lines)])
	p.lines = p.lines[:0]
	if cap(p.lines) > maxKeptArena {
		p.lines = nil
	}
}

// parse is parseSimple with p's buffers: the tree it returns is valid
// until the next call.
func (p *simpleParser) parse(piece []byte) (doc *yaml.Node, ok bool) {
	lines, docLine, ok := simpleLines(p.lines[:0], piece)
	p.lines, p.pos, p.depth = lines, 0, 0
	p.nodes, p.ptrs = p.nodes[:0], p.ptrs[:0]
	if cap(p.nodes) > maxKeptArena {
		p.nodes = nil
	}
	if cap(p.ptrs) > maxKeptArena {
		p.ptrs = nil
	}
	if !ok {
		return nil, false
	}
	first, more := p.next()
	if !more {
		return nil, true
	}
	if isSequenceItem(first.text) {
		return nil, false // a list: go-yaml says what is wrong with it
	}
	// The document starts at its "---", else at its first token.
	docColumn := 1
	if docLine == 0 {
		docLine, docColumn = first.num, first.indent+1
	}
	root, ok := p.mapping(first.indent)
	if _, more := p.next(); !ok || more {
		return nil, false
	}
	return p.node(yaml.Node{Kind: yaml.DocumentNode, Line: docLine, Column: docColumn, Content: p.content([]*yaml.Node{root})}), true
}

// simpleLines appends the lines of piece to lines, and gives the line of
// its "---" when it starts with one. It refuses any byte outside printable
// ASCII but line breaks, a second document marker, and directives.
func simpleLines(lines []simpleLine, piece []byte) (_ []simpleLine, docLine int, ok bool) {
	num := 0
	for len(piece) > 0 {
		num++
		var l []byte
		if i := bytes.IndexByte(piece, '\n'); i >= 0 {
			l, piece = piece[:i], piece[i+1:]
		} else {
			l, piece = piece, nil
		}
		broken := piece != nil
		if n := len(l); n > 0 && l[n-1] == '\r' {
			l = l[:n-1]
		}
		for _, b := range l {
			if b < 0x20 || b > 0x7e {
				return lines, 0, false // tabs, control characters, a lone CR, non-ASCII
			}
		}
		indent := 0
		for indent < len(l) && l[indent] == ' ' {
			indent++
		}
		text := bytes.TrimRight(l[indent:], " ")
		line := simpleLine{num: num, indent: indent, text: text, raw: l, broken: broken}
		if len(text) == 0 || text[0] == '#' {
			line.blank = true
			lines = append(lines, line)
			continue
		}
		if indent == 0 && (text[0] == '%' || bytes.HasPrefix(text, []byte("..."))) {
			return lines, 0, false
		}
		if indent == 0 && bytes.HasPrefix(text, []byte("---")) {
			if docLine != 0 || slices.ContainsFunc(lines, func(l simpleLine) bool { return !l.blank }) {
				return lines, 0, false
			}
			if rest := bytes.TrimLeft(text[3:], " "); len(text) > 3 && (text[3] != ' ' || len(rest) > 0 && rest[0] != '#') {
				return lines, 0, false // content after the marker, or "---x"
			}
			docLine = num
			line.blank = true
			lines = append(lines, line)
			continue
		}
		lines = append(lines, line)
	}
	return lines, docLine, true
}

// isSequenceItem reports whether text starts a block sequence entry.
func isSequenceItem(text []byte) bool {
	return text[0] == '-' && (len(text) == 1 || text[1] == ' ')
}

// next moves the parser past blank lines to the next line with content,
// if any, and returns it.
func (p *simpleParser) next() (simpleLine, bool) {
	for p.pos < len(p.lines) && p.lines[p.pos].blank {
		p.pos++
	}
	if p.pos >= len(p.lines) {
		return simpleLine{}, false
	}
	return p.lines[p.pos], true
}

// block parses the mapping or sequence whose first line is the current one,
// at its indentation.
func (p *simpleParser) block() (*yaml.Node, bool) {
	l, _ := p.next()
	if isSequenceItem(l.text) {
		return p.sequence(l.indent)
	}
	return p.mapping(l.indent)
}

// open starts a mapping or sequence whose first line is the current one,
// one level deeper; close ends the level.
func (p *simpleParser) open(kind yaml.Kind, indent int) (*yaml.Node, bool) {
	if p.depth++; p.depth > maxSimpleDepth {
		return nil, false
	}
	for len(p.items) <= p.depth {
		p.items = append(p.items, nil)
	}
	p.items[p.depth] = p.items[p.depth][:0]
	first, _ := p.next()
	return p.node(yaml.Node{Kind: kind, Line: first.num, Column: indent + 1}), true
}

func (p *simpleParser) close() { p.depth-- }

// add adds a child to the mapping or list being read.
func (p *simpleParser) add(n *yaml.Node) { p.items[p.depth] = append(p.items[p.depth], n) }

// done gives the mapping or list being read its children.
func (p *simpleParser) done(n *yaml.Node) (*yaml.Node, bool) {
	n.Content = p.content(p.items[p.depth])
	return n, true
}

// mapping parses the block mapping whose keys sit at indent.
func (p *simpleParser) mapping(indent int) (*yaml.Node, bool) {
	m, ok := p.open(yaml.MappingNode, indent)
	defer p.close()
	if !ok {
		return nil, false
	}
	for {
		l, more := p.next()
		if !more || l.indent < indent {
			return p.done(m)
		}
		if l.indent > indent || isSequenceItem(l.text) {
			return nil, false
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, false
		}
		p.pos++
		p.add(p.node(yaml.Node{Kind: yaml.ScalarNode, Value: p.key(key), Line: l.num, Column: indent + 1}))
		valueColumn := indent + len(key) + 2 // just after the colon, as go-yaml places an empty value
		rest, skipped := trimSpaces(rest)
		if len(rest) > 0 && rest[0] == '|' {
			v, ok := p.literal(rest, l.num, valueColumn+skipped, indent)
			if !ok {
				return nil, false
			}
			p.add(v)
			continue
		}
		if len(rest) > 0 && rest[0] != '#' {
			v, open, ok := p.scalarValue(rest, l.num, valueColumn+skipped)
			if !ok || open && !p.continuePlain(v, indent) {
				return nil, false
			}
			p.add(v)
			if n, more := p.next(); more && n.indent > indent {
				return nil, false // a scalar continued on the next line
			}
			continue
		}
		// The value is the block on the lines below, or empty.
		n, more := p.next()
		switch {
		case more && (n.indent > indent || n.indent == indent && isSequenceItem(n.text)):
			v, ok := p.block()
			if !ok {
				return nil, false
			}
			p.add(v)
		default:
			p.add(p.node(yaml.Node{Kind: yaml.ScalarNode, Line: l.num, Column: valueColumn}))
		}
	}
}

// sequence parses the block sequence whose dashes sit at indent.
func (p *simpleParser) sequence(indent int) (*yaml.Node, bool) {
	s, ok := p.open(yaml.SequenceNode, indent)
	defer p.close()
	if !ok {
		return nil, false
	}
	for {
		l, more := p.next()
		if !more || l.indent < indent || l.indent == indent && !isSequenceItem(l.text) {
			// The end of the list; a key at its indentation belongs to
			// the mapping the list is a value of.
			return p.done(s)
		}
		if l.indent > indent {
			return nil, false
		}
		rest, skipped := trimSpaces(l.text[1:])
		if len(rest) == 0 || rest[0] == '#' || isSequenceItem(rest) {
			return nil, false // the item on the lines below, or a list in a list
		}
		column := indent + 1 + skipped // where the item's content starts, from 0
		if _, _, isKey := splitKey(rest); isKey {
			// "- key: value": a mapping whose keys line up with this one.
			p.lines[p.pos] = simpleLine{num: l.num, indent: column, text: rest}
			v, ok := p.mapping(column)
			if !ok {
				return nil, false
			}
			p.add(v)
			continue
		}
		p.pos++
		var v *yaml.Node
		var ok bool
		if rest[0] == '|' {
			v, ok = p.literal(rest, l.num, column+1, indent)
		} else {
			var open bool
			v, open, ok = p.scalarValue(rest, l.num, column+1)
			ok = ok && (!open || p.continuePlain(v, indent))
		}
		if !ok {
			return nil, false
		}
		p.add(v)
		if n, more := p.next(); more && n.indent > indent {
			return nil, false
		}
	}
}

// literal reads a literal block: its header (text, "|", "|-" or "|+",
// at line and column) ends the line, and its lines follow the parser's
// position, indented more than the parent node at parentIndent.
func (p *simpleParser) literal(text []byte, line, column, parentIndent int) (*yaml.Node, bool) {
	chomp := byte(0)
	if len(text) > 1 {
		chomp = text[1]
		if len(text) > 2 || chomp != '-' && chomp != '+' {
			return nil, false // an indentation indicator or a comment
		}
	}
	// The block's indentation is its first non-empty line's.
	start := p.pos
	indent := -1
	for i := start; i < len(p.lines); i++ {
		l := p.lines[i]
		if len(l.raw) == l.indent {
			continue // empty, or spaces only
		}
		indent = l.indent
		break
	}
	if indent <= parentIndent {
		return nil, false // an empty block
	}
	var value []byte
	trailing := 0 // line breaks after the last non-empty line
	end := start
	for ; end < len(p.lines); end++ {
		l := p.lines[end]
		if len(l.raw) == l.indent { // empty, or spaces only
			if l.indent > indent {
				return nil, false // spaces that would be content
			}
			if l.broken { // the piece's last line, without a break, adds none
				trailing++
			}
			continue
		}
		if l.indent < indent {
			break
		}
		if !l.broken {
			return nil, false // the block ends the piece without a line break
		}
		for range trailing {
			value = append(value, '\n')
		}
		trailing = 0
		value = append(append(value, l.raw[indent:]...), '\n')
	}
	switch chomp {
	case '-':
		value = bytes.TrimSuffix(value, []byte("\n"))
	case '+':
		for range trailing {
			value = append(value, '\n')
		}
	}
	p.pos = end
	if end < len(p.lines) && p.lines[end].indent > parentIndent {
		return nil, false // a less indented line that does not end the parent
	}
	return p.node(yaml.Node{Kind: yaml.ScalarNode, Style: yaml.LiteralStyle, Value: string(value), Line: line, Column: column}), true
}

// continuePlain extends n, a plain scalar that ends its line, with the
// lines below it indented more than its parent at parentIndent: go-yaml
// folds them into it, the line break between two lines becoming a space and
// each empty line between them a line break. It stops at a comment, and is
// false for a line that may not continue a plain scalar.
func (p *simpleParser) continuePlain(n *yaml.Node, parentIndent int) bool {
	var value []byte
	empty := 0
	for i := p.pos; i < len(p.lines); i++ {
		l := p.lines[i]
		if l.blank {
			if len(l.text) > 0 {
				break // a comment ends the scalar
			}
			empty++
			continue
		}
		if l.indent <= parentIndent {
			break
		}
		if !plainStart(l.text) || bytes.Contains(l.text, []byte(": ")) || bytes.Contains(l.text, []byte(" #")) || l.text[len(l.text)-1] == ':' {
			return false
		}
		if value == nil {
			value = []byte(n.Value)
		}
		if empty == 0 {
			value = append(value, ' ')
		}
		for range empty {
			value = append(value, '\n')
		}
		empty = 0
		value = append(value, l.text...)
		p.pos = i + 1
	}
	if value != nil {
		n.Value = string(value)
	}
	return true
}

// splitKey splits "key: rest" or "key:" at the colon. Keys are plain and
// made of letters, digits and "-_./", not starting with "-".
func splitKey(text []byte) (key, rest []byte, ok bool) {
	i := 0
	for i < len(text) && i <= maxSimpleKey && isKeyByte(text[i]) {
		i++
	}
	if i == 0 || i > maxSimpleKey || text[0] == '-' || i == len(text) || text[i] != ':' {
		return nil, nil, false
	}
	if i+1 < len(text) && text[i+1] != ' ' {
		return nil, nil, false
	}
	return text[:i], text[i+1:], true
}

func isKeyByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.' || b == '/'
}

// trimSpaces drops leading spaces and says how many there were.
func trimSpaces(b []byte) ([]byte, int) {
	n := 0
	for n < len(b) && b[n] == ' ' {
		n++
	}
	return b[n:], n
}

// scalarValue reads the value that fills the rest of a line: a plain or
// quoted scalar, "{}" or "[]", with an optional comment after it. column
// is where it starts, from 1. open is set for a plain scalar that no
// comment ends, which the next lines may continue.
func (p *simpleParser) scalarValue(text []byte, line, column int) (n *yaml.Node, open, ok bool) {
	n = p.node(yaml.Node{Kind: yaml.ScalarNode, Line: line, Column: column})
	var rest []byte
	switch text[0] {
	case '"':
		end := bytes.IndexByte(text[1:], '"')
		if end < 0 || bytes.IndexByte(text[1:end+1], '\\') >= 0 {
			return nil, false, false // escapes, or a string that goes on
		}
		n.Value, n.Style, rest = string(text[1:end+1]), yaml.DoubleQuotedStyle, text[end+2:]
	case '\'':
		var value []byte
		i := 1
		for {
			if i >= len(text) {
				return nil, false, false
			}
			if text[i] == '\'' {
				if i+1 < len(text) && text[i+1] == '\'' {
					value = append(value, '\'')
					i += 2
					continue
				}
				break
			}
			value = append(value, text[i])
			i++
		}
		n.Value, n.Style, rest = string(value), yaml.SingleQuotedStyle, text[i+1:]
	case '{', '[':
		if len(text) < 2 || text[1] != text[0]+2 { // "{}" or "[]"
			return nil, false, false
		}
		n.Kind, n.Style, rest = yaml.MappingNode, yaml.FlowStyle, text[2:]
		if text[0] == '[' {
			n.Kind = yaml.SequenceNode
		}
	default:
		if !plainStart(text) {
			return nil, false, false
		}
		end := len(text)
		if i := bytes.Index(text, []byte(" #")); i >= 0 {
			end = i
		}
		open = end == len(text)
		value := bytes.TrimRight(text[:end], " ")
		if bytes.Contains(value, []byte(": ")) || value[len(value)-1] == ':' {
			return nil, false, false
		}
		n.Value = string(value)
		return n, open, true
	}
	// After a quoted scalar or an empty collection: nothing, or a comment.
	if len(rest) > 0 {
		trimmed, skipped := trimSpaces(rest)
		if skipped == 0 || len(trimmed) > 0 && trimmed[0] != '#' {
			return nil, false, false
		}
	}
	return n, false, true
}

// plainStart reports whether text may start a plain scalar here: not with
// an indicator, except "-" followed by more than a space.
func plainStart(text []byte) bool {
	switch c := text[0]; {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '/' || c == '_' || c == '(' || c == '+' || c == '$' || c == '=' || c == '~' || c == '^' || c == '<' || c == ';' || c == '.' || c == '\\':
		return c != '<' || len(text) < 2 || text[1] != '<'
	case c == '-':
		return len(text) > 1 && text[1] != ' '
	}
	return false
}
