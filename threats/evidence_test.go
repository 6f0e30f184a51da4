package threats

import (
	"reflect"
	"testing"

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
