package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeFindingGroup: decodeFindingGroup never panics; what it reads
// from any input it accepts, written again by the store's encoder, reads
// back the same; and any group the encoder writes, from any text, reads
// back as it was.
func FuzzDecodeFindingGroup(f *testing.F) {
	f.Add([]byte(`{"element":"workload:shop/a","namespace":"shop","findings":[{"rule":"r","stride":"s","severity":"low","data":{"x":[1,"]}\""]}},{"id":"x \u2028","rule":"q","stride":"s","severity":"high","data":null}]}`),
		"workload:shop/a", "shop", "r@workload:shop/a", "r", "<&>\u2028\"", `{"detail":"a \\ b"}`)
	f.Add([]byte(` { "findings" : [ ] , "element" : "\u0065" } `), "", "", "", "", "", "null")
	f.Add([]byte(`{"element":"a","findings":[{"data":[[{]]}]}`), "e", "n", "custom", "r", "s", `[1,{"a":[true,false,null]},-2.5e3]`)
	f.Fuzz(func(t *testing.T, data []byte, element, namespace, id, rule, text, value string) {
		var enc findingGroupEncoder
		if g, err := decodeFindingGroup(data); err == nil {
			findings, raw := flatten(&g)
			if again, ok := roundTrip(t, &enc, findings, raw); ok {
				findingsAgain, rawAgain := flatten(&again)
				if !reflect.DeepEqual(findingsAgain, findings) {
					t.Fatalf("decoded %q as %+v; written again it reads %+v", data, findings, findingsAgain)
				}
				for i := range raw {
					var compact bytes.Buffer
					if json.Compact(&compact, raw[i]) == nil && compact.String() != string(rawAgain[i]) && rawAgain[i] != nil {
						t.Fatalf("decoded %q with data %q; written again it reads %q", data, raw[i], rawAgain[i])
					}
				}
			}
		}

		if !json.Valid([]byte(value)) {
			value = "null"
		}
		for _, s := range []string{element, namespace, id, rule, text} {
			if !utf8.ValidString(s) {
				return // JSON holds text, which Go's encoder makes valid UTF-8
			}
		}
		findings := []Finding{{ID: id, RuleID: rule, Stride: text, Severity: text, Element: element, Namespace: namespace}}
		raw := []json.RawMessage{json.RawMessage(value)}
		g, ok := roundTrip(t, &enc, findings, raw)
		if !ok {
			t.Fatalf("the encoder refused %+v", findings)
		}
		got, _ := flatten(&g)
		got[0].Data = nil
		if !reflect.DeepEqual(got, findings) {
			t.Fatalf("wrote %+v, read %+v", findings, got)
		}
	})
}

// flatten lists the group's findings and their data apart.
func flatten(g *findingGroup) ([]Finding, []json.RawMessage) {
	findings := appendFindings(nil, 0, g)
	raw := make([]json.RawMessage, len(findings))
	for i := range findings {
		raw[i], findings[i].Data = findings[i].Data, nil
	}
	return findings, raw
}

// roundTrip writes findings as one group and reads it back; ok is false
// when the encoder refuses them.
func roundTrip(t *testing.T, enc *findingGroupEncoder, findings []Finding, raw []json.RawMessage) (findingGroup, bool) {
	t.Helper()
	if len(findings) == 0 {
		return findingGroup{}, false
	}
	members := make([]int, len(findings))
	for i := range members {
		members[i] = i
	}
	text, err := enc.encode(findings, members, func(i int) (json.RawMessage, error) { return raw[i], nil }, false)
	if err != nil {
		return findingGroup{}, false
	}
	var want findingGroup
	if err := json.Unmarshal([]byte(text), &want); err != nil {
		t.Fatalf("the encoder wrote invalid JSON %q: %v", text, err)
	}
	g, err := decodeFindingGroup([]byte(text))
	if err != nil {
		t.Fatalf("cannot read what the encoder wrote, %q: %v", text, err)
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("read %q as %+v; encoding/json reads %+v", text, g, want)
	}
	return g, true
}
