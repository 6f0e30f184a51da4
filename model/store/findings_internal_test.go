package store

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestFindingGroupEncoderIsMarshal: the group encoder writes what
// encoding/json writes for a findingGroup without HTML escaping, as the
// store's writer encodes, and as migration 0011 builds the groups of old
// stores: text that JSON escapes, an ID that is not RULE@ELEMENT, nil
// data, and data with spaces, which is compacted unless it was checked.
func TestFindingGroupEncoderIsMarshal(t *testing.T) {
	custom := "custom <&> \u2028 \x01 id"
	findings := []Finding{
		{ID: "r@workload:a/<b>", RuleID: "r", Stride: "spoofing", Severity: "high", Element: "workload:a/<b>", Namespace: "a\u2029", Data: json.RawMessage(`{"d":"x\u003c"}`)},
		{ID: custom, RuleID: "q", Stride: "tampering", Severity: "low", Element: "workload:a/<b>", Namespace: "a\u2029"},
		{ID: "s@workload:a/<b>", RuleID: "s", Stride: "\"s\"", Severity: "\xff", Element: "workload:a/<b>", Namespace: "a\u2029", Data: json.RawMessage(" [ 1 , {\"a\" : true} ] ")},
	}
	want := findingGroup{Element: "workload:a/<b>", Namespace: "a\u2029", Findings: []groupedFinding{
		{RuleID: "r", Stride: "spoofing", Severity: "high", Data: findings[0].Data},
		{ID: &custom, RuleID: "q", Stride: "tampering", Severity: "low"},
		{RuleID: "s", Stride: "\"s\"", Severity: "\xff", Data: findings[2].Data},
	}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&want); err != nil {
		t.Fatal(err)
	}
	var e findingGroupEncoder
	got, err := e.encode(findings, []int{0, 1, 2}, func(i int) (json.RawMessage, error) { return findings[i].Data, nil }, false)
	if err != nil {
		t.Fatal(err)
	}
	if w := string(bytes.TrimSuffix(b.Bytes(), []byte{'\n'})); got != w {
		t.Errorf("encoder wrote\n %s\nencoding/json writes\n %s", got, w)
	}
	// Data that is not JSON is refused, not stored.
	findings[0].Data = json.RawMessage(`{"d":`)
	if _, err := e.encode(findings, []int{0}, func(i int) (json.RawMessage, error) { return findings[i].Data, nil }, false); err == nil {
		t.Error("a finding whose data is not JSON was encoded")
	}
}
