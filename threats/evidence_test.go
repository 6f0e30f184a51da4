package threats

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model"
)

// TestFindingEvidence orders a finding's evidence: the details that carry
// their own line and those quoted from the element's controls (at the
// evidence that located them: the first that has a file, across controls
// in order), in the details' order; then the element's own evidence; then
// the other details, at the element's first line.
func TestFindingEvidence(t *testing.T) {
	element := []model.Evidence{{File: "app.yaml", Line: 10, Object: "Deployment shop/web"}}
	controls := []*model.Control{
		{Type: "a", Evidence: []model.Evidence{{Object: "Deployment shop/web", Detail: "env TOKEN"}}}, // no file: not a location
		{Type: "b", Evidence: []model.Evidence{
			{File: "app.yaml", Line: 31, Field: "spec.template.spec.containers[0].env[2]", Detail: "env TOKEN"},
			{File: "app.yaml", Line: 40, Detail: "port 80"},
		}},
		{Type: "c", Evidence: []model.Evidence{{File: "other.yaml", Line: 5, Detail: "env TOKEN"}}}, // a later match
	}
	got := findingEvidence(element, controls, []string{"port 80", "not quoted", "env TOKEN", catalog.Located(model.Evidence{File: "app.yaml", Line: 7}, "on line 7")})
	want := []model.Evidence{
		{File: "app.yaml", Line: 40, Detail: "port 80"},
		{File: "app.yaml", Line: 31, Field: "spec.template.spec.containers[0].env[2]", Detail: "env TOKEN"},
		{File: "app.yaml", Line: 7, Detail: "on line 7"},
		{File: "app.yaml", Line: 10, Object: "Deployment shop/web"},
		{File: "app.yaml", Line: 10, Object: "Deployment shop/web", Detail: "not quoted"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findingEvidence:\n got %+v\nwant %+v", got, want)
	}
}

// TestShareDetails: equal details of different findings become one
// string, and no finding's evidence changes.
func TestShareDetails(t *testing.T) {
	detail := func(s string) string { return string([]byte(s)) } // a copy of its own
	findings := []Finding{
		{ID: "a", Evidence: []model.Evidence{{File: "a.yaml", Line: 1}, {File: "a.yaml", Line: 1, Detail: detail("container server")}}},
		{ID: "b", Evidence: []model.Evidence{{File: "b.yaml", Line: 2, Detail: detail("container server")}, {Detail: detail("port 80")}}},
		{ID: "c"},
		{ID: "d", Evidence: []model.Evidence{{Detail: detail("port 80")}, {Detail: detail("port 8080")}}},
	}
	want := []Finding{
		{ID: "a", Evidence: []model.Evidence{{File: "a.yaml", Line: 1}, {File: "a.yaml", Line: 1, Detail: "container server"}}},
		{ID: "b", Evidence: []model.Evidence{{File: "b.yaml", Line: 2, Detail: "container server"}, {Detail: "port 80"}}},
		{ID: "c"},
		{ID: "d", Evidence: []model.Evidence{{Detail: "port 80"}, {Detail: "port 8080"}}},
	}
	shareDetails(findings)
	if !reflect.DeepEqual(findings, want) {
		t.Fatalf("shareDetails changed the findings:\n got %+v\nwant %+v", findings, want)
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	if !same(findings[0].Evidence[1].Detail, findings[1].Evidence[0].Detail) || !same(findings[1].Evidence[1].Detail, findings[3].Evidence[0].Detail) {
		t.Errorf("equal details are still separate strings")
	}
}
