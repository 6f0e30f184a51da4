package catalog

import (
	"reflect"
	"testing"
)

// TestContextListCache: each Context keeps the CEL lists its rules read,
// and one Context's lists never answer for another's.
func TestContextListCache(t *testing.T) {
	rule := userRule(t, "two-controls", `- id: two-controls
  title: t
  stride: T
  appliesTo: [process]
  condition: '"a" in ctx.controls && ctx.controls.size() == 2 && !("z" in ctx.namespaceControls)'
  evidence: 'ctx.controls'
  missingControl: m
  likelihood: low
  impact: high
  description: d
  mitigation: m
`)
	first := &Context{Controls: []string{"a", "b"}, NamespaceControls: []string{"y"}}
	second := &Context{Controls: []string{"c"}, NamespaceControls: []string{"z"}}
	for _, tc := range []struct {
		ctx     *Context
		matched bool
		details []string
	}{{first, true, []string{"a", "b"}}, {second, false, nil}, {first, true, []string{"a", "b"}}} {
		matched, details, err := rule.Match(&Vars{Ctx: tc.ctx})
		if err != nil || matched != tc.matched || !reflect.DeepEqual(details, tc.details) {
			t.Errorf("Match(%v) = %v, %v, %v; want %v, %v", tc.ctx.Controls, matched, details, err, tc.matched, tc.details)
		}
	}
	// The second's condition stopped at its controls.
	for _, tc := range []struct {
		ctx    *Context
		read   []string
		unread []string
	}{{first, []string{"controls", "namespaceControls"}, []string{"callers"}}, {second, []string{"controls"}, []string{"namespaceControls", "callers"}}} {
		for _, name := range tc.read {
			if tc.ctx.lists[contextLists[name]] == nil {
				t.Errorf("ctx.%s was read but not kept: %v", name, tc.ctx.lists)
			}
		}
		for _, name := range tc.unread {
			if tc.ctx.lists[contextLists[name]] != nil {
				t.Errorf("ctx.%s was kept but never read: %v", name, tc.ctx.lists)
			}
		}
	}
	// Every list of strings has a slot; nothing else does.
	var lists int
	for i := range reflect.TypeFor[Context]().NumField() {
		if f := reflect.TypeFor[Context]().Field(i); f.IsExported() && f.Type == reflectStringSlice {
			if _, ok := contextLists[celFieldName(f)]; !ok {
				t.Errorf("Context.%s has no slot", f.Name)
			}
			lists++
		}
	}
	if len(contextLists) != lists {
		t.Errorf("%d slots for %d lists", len(contextLists), lists)
	}
}
