package manifests

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/stridemap/stridemap/discover"
)

// DecodeValue reads one object that is already decoded JSON, as an API
// server's list gives its items (numbers as float64 or json.Number), with
// the same checks and conversion as Decode: the same rules for Secrets,
// namespaces and kinds, the same problems. It builds the node tree the
// converter reads straight from the value, where printing the value as
// JSON for Decode made go-yaml parse it again, most of a live scan's
// extra cost. The object has no line index and its problems no line:
// the value has none. Objects decoded with one shared (which may be nil)
// share their repeated maps.
func DecodeValue(file string, value map[string]any, shared *SharedMaps) ([]*discover.Object, []discover.Problem) {
	d := decoder{maps: shared}
	d.file, d.namespace = file, "default"
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{valueNode(value)}}
	d.document(doc, 0)
	for _, obj := range d.objs {
		obj.Lines = discover.LineIndex{}
		obj.Location.Line = 0
	}
	for i := range d.probs {
		d.probs[i].Location.Line = 0
	}
	return d.objs, d.probs
}

// valueNode is the node go-yaml would parse from v printed as JSON: keys
// in order, strings quoted (so "yes" or "0x10" stay strings), integral
// numbers as integers where a float64 holds them exactly.
func valueNode(v any) *yaml.Node {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: make([]*yaml.Node, 0, 2*len(keys))}
		for _, k := range keys {
			n.Content = append(n.Content, stringNode(k), valueNode(v[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, 0, len(v))}
		for _, item := range v {
			n.Content = append(n.Content, valueNode(item))
		}
		return n
	case string:
		return stringNode(v)
	case bool:
		return scalarNode("!!bool", strconv.FormatBool(v))
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return scalarNode("!!int", strconv.FormatInt(int64(v), 10))
		}
		return scalarNode("!!float", strconv.FormatFloat(v, 'g', -1, 64))
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return scalarNode("!!int", v.String())
		}
		return scalarNode("!!float", v.String())
	case nil:
		return scalarNode("!!null", "null")
	default: // not what encoding/json gives: keep its text
		b, _ := json.Marshal(v)
		return stringNode(string(b))
	}
}

func stringNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: s}
}

func scalarNode(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}
