package threats_test

import (
	"encoding/json"
	"reflect"
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
		ID: "privileged-container@workload:shop/cart", RuleID: "privileged-container", Title: "Privileged container",
		Stride: catalog.ElevationOfPrivilege, Severity: threats.High, Likelihood: 3, Impact: 4, Raised: []string{"exposed to the internet"},
		Element: "workload:shop/cart", ElementType: catalog.TargetProcess, Namespace: "shop",
		Evidence:       []model.Evidence{{File: "cart.yaml", Line: 12, Version: "42", Object: "Deployment shop/cart", Field: "spec", Detail: "privileged"}},
		MissingControl: "no-privileged", Description: "It runs privileged.", Mitigation: "Do not.",
		References: catalog.References{CWE: []string{"CWE-250"}, CAPEC: []string{"CAPEC-122"}, ATTACK: []string{"T1611"}, OWASP: []string{"K01"}, NSA: []string{"Pod security"}},
	}
	v := reflect.ValueOf(f)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "Triage" && v.Field(i).IsZero() {
			t.Fatalf("the fixture leaves Finding.%s empty: set it", name)
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
	whole.Title, whole.Description, whole.Mitigation, whole.References = "", "", "", catalog.References{}
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
