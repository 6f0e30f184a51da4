package catalog

import (
	"reflect"
	"testing"

	"github.com/stridemap/stridemap/model"
)

// TestSettingsLookup: lookup answers with the first key of its list that is
// set, at that key's last occurrence, and with an empty setting when none
// is; the empty answer is shared, so no container sees another's.
func TestSettingsLookup(t *testing.T) {
	rule := userRule(t, "anonymous", `- id: anonymous
  title: t
  stride: S
  appliesTo: [process]
  condition: 'node.workload.containers.exists(c, c.settings.lookup(["ENV_KEY", "file.key"]).value != "")'
  evidence: >-
    node.workload.containers.map(c, c.name + "=" + c.settings.lookup(["ENV_KEY", "file.key"]).key + ":" +
      c.settings.lookup(["ENV_KEY", "file.key"]).value)
  missingControl: m
  likelihood: low
  impact: high
  description: d
  mitigation: m
`)
	setting := func(key, value string) model.Setting { return model.Setting{Key: key, Value: value, Source: "env"} }
	node := &model.Node{Type: model.Process, Workload: &model.Workload{Containers: []model.Container{
		// Both keys set: the first key of the list wins, though it comes first.
		{Name: "both", Settings: []model.Setting{setting("ENV_KEY", "env"), setting("file.key", "file")}},
		// A key set twice: its last occurrence wins.
		{Name: "twice", Settings: []model.Setting{setting("file.key", "old"), setting("other", "x"), setting("file.key", "new")}},
		{Name: "none", Settings: []model.Setting{setting("other", "x")}},
		{Name: "empty"},
	}}}
	matched, details, err := rule.Match(&Vars{Node: node, Ctx: &Context{}})
	want := []string{"both=ENV_KEY:env", "twice=file.key:new", "none=:", "empty=:"}
	if err != nil || !matched || !reflect.DeepEqual(details, want) {
		t.Errorf("Match = %v, %q, %v; want true, %q", matched, details, err, want)
	}
	unset := &model.Node{Type: model.Process, Workload: &model.Workload{Containers: []model.Container{{Name: "a"}, {Name: "b", Settings: []model.Setting{setting("other", "x")}}}}}
	if matched, _, err := rule.Match(&Vars{Node: unset, Ctx: &Context{}}); err != nil || matched {
		t.Errorf("no key set: Match = %v, %v; want false", matched, err)
	}
}
