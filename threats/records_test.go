package threats_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
)

// fullFinding has every field of a stored finding set, so that a field the
// store's form forgets fails the round trip.
func fullFinding(t *testing.T) threats.Finding {
	t.Helper()
	f := threats.Finding{
		ID: "privileged-container@workload:shop/cart", RuleID: "privileged-container",
		Stride: catalog.ElevationOfPrivilege, Severity: threats.High, Likelihood: 3, Impact: 4, Raised: []string{"exposed to the internet"},
		Element: "workload:shop/cart", ElementType: catalog.TargetProcess, Namespace: "shop",
		Evidence:       []model.Evidence{{File: "cart.yaml", Line: 12, Version: "42", Object: "Deployment shop/cart", Field: "spec", Detail: "privileged"}},
		MissingControl: "no-privileged",
		Texts: &threats.RuleText{Title: "Privileged container", Description: "It runs privileged.", Mitigation: "Do not.",
			References: catalog.References{CWE: []string{"CWE-250"}, CAPEC: []string{"CAPEC-122"}, ATTACK: []string{"T1611"}, OWASP: []string{"K01"}, NSA: []string{"Pod security"}}},
	}
	for _, v := range []reflect.Value{reflect.ValueOf(f), reflect.ValueOf(*f.Texts)} {
		for i := range v.NumField() {
			if name := v.Type().Field(i).Name; name != "Triage" && v.Field(i).IsZero() {
				t.Fatalf("the fixture leaves %s.%s empty: set it", v.Type().Name(), name)
			}
		}
	}
	return f
}

// TestRecordsRoundTrip: a finding stored and read back is the finding, its
// record's JSON holding only what the columns and the rule's text do not.
func TestRecordsRoundTrip(t *testing.T) {
	f := fullFinding(t)
	other := f
	other.ID, other.Element, other.Namespace, other.Severity = "privileged-container@workload:web/front", "workload:web/front", "web", threats.Medium
	records, rules, err := threats.Records([]threats.Finding{f, other})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 {
		t.Errorf("%d rule texts for one rule", len(rules))
	}
	var data map[string]any
	if err := json.Unmarshal(records[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	for _, column := range []string{"id", "rule", "stride", "severity", "element", "namespace", "title", "description", "mitigation", "references"} {
		if _, ok := data[column]; ok {
			t.Errorf("the record's JSON repeats %q: %s", column, records[0].Data)
		}
	}
	back, err := threats.FromRecords(records, rules)
	if err != nil {
		t.Fatal(err)
	}
	if want := []threats.Finding{f, other}; !reflect.DeepEqual(back, want) {
		t.Errorf("read back\n %+v\nwant\n %+v", back, want)
	}
}

// TestRecordsWrittenWholeStillRead: records written when the JSON held the
// whole finding read back as they did.
func TestRecordsWrittenWholeStillRead(t *testing.T) {
	f := fullFinding(t)
	records, rules, err := threats.Records([]threats.Finding{f})
	if err != nil {
		t.Fatal(err)
	}
	whole := f
	whole.Texts = nil // the rule texts were in the rule table already
	if records[0].Data, err = json.Marshal(whole); err != nil {
		t.Fatal(err)
	}
	back, err := threats.FromRecords(records, rules)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, []threats.Finding{f}) {
		t.Errorf("read back\n %+v\nwant\n %+v", back[0], f)
	}
}

// TestFindingJSON: a finding's JSON is what it was when the rule's texts
// were fields of their own, in the same order, and reads back whole; a
// finding without texts reads as one with none.
func TestFindingJSON(t *testing.T) {
	f := fullFinding(t)
	f.Triage = &threats.Triage{Status: threats.Accepted, Reason: "known", By: "ana"}
	type before struct {
		ID             string             `json:"id"`
		RuleID         string             `json:"rule"`
		Title          string             `json:"title,omitempty"`
		Stride         catalog.Stride     `json:"stride"`
		Severity       threats.Severity   `json:"severity"`
		Likelihood     int                `json:"likelihood"`
		Impact         int                `json:"impact"`
		Raised         []string           `json:"raised,omitempty"`
		Element        string             `json:"element"`
		ElementType    catalog.Target     `json:"elementType"`
		Namespace      string             `json:"namespace,omitempty"`
		Evidence       []model.Evidence   `json:"evidence"`
		MissingControl string             `json:"missingControl"`
		Description    string             `json:"description,omitempty"`
		Mitigation     string             `json:"mitigation,omitempty"`
		References     catalog.References `json:"references,omitzero"`
		Triage         *threats.Triage    `json:"triage,omitempty"`
	}
	want, err := json.Marshal(before{f.ID, f.RuleID, f.Title(), f.Stride, f.Severity, f.Likelihood, f.Impact, f.Raised, f.Element,
		f.ElementType, f.Namespace, f.Evidence, f.MissingControl, f.Description(), f.Mitigation(), f.References(), f.Triage})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(f)
	if err != nil || string(got) != string(want) {
		t.Fatalf("JSON %s (%v)\nwant %s", got, err, want)
	}
	var back threats.Finding
	if err := json.Unmarshal(got, &back); err != nil || !reflect.DeepEqual(back, f) {
		t.Errorf("read back %+v (%v)\nwant %+v", back, err, f)
	}

	bare := threats.Finding{ID: "r@x", RuleID: "r"}
	if bare.Title() != "" || bare.Description() != "" || bare.Mitigation() != "" || !reflect.ValueOf(bare.References()).IsZero() {
		t.Errorf("a finding without texts has some: %q %q %q %v", bare.Title(), bare.Description(), bare.Mitigation(), bare.References())
	}
	if data, err := json.Marshal(bare); err != nil || strings.Contains(string(data), "title") || strings.Contains(string(data), "references") {
		t.Errorf("a finding without texts: %s (%v)", data, err)
	}
}

// TestForStoreEncodesAsRecords: the JSON ForStore's encode gives, one
// finding after another through one buffer, is byte for byte the JSON
// Records gives, HTML escaping included, so a scan saved either way shares
// its stored findings.
func TestForStoreEncodesAsRecords(t *testing.T) {
	f := fullFinding(t)
	other := f
	other.ID, other.Element = "privileged-container@workload:web/<front>", "workload:web/<front>"
	other.Evidence = append([]model.Evidence{{File: "a&b.yaml", Line: 3, Detail: "<script> \u2028"}}, f.Evidence...)
	findings := []threats.Finding{f, other, f}
	records, _, err := threats.Records(findings)
	if err != nil {
		t.Fatal(err)
	}
	_, encode, _, err := threats.ForStore(findings)
	if err != nil {
		t.Fatal(err)
	}
	for i := range findings {
		got, err := encode(i)
		if err != nil || string(got) != string(records[i].Data) {
			t.Errorf("encode(%d) = %s, %v\nRecords gives %s", i, got, err, records[i].Data)
		}
	}
}
