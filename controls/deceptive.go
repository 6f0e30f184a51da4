package controls

import (
	"fmt"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
)

// WeaknessDeceptiveCharacters: a name, label or annotation of the element
// holds a control character (an escape sequence, say) or a bidi or other
// invisible format character, so it can display as something it is not
// (the Trojan Source attack) or act on the terminal of whoever reads it.
// The evidence shows the text escaped, never as it is.
const WeaknessDeceptiveCharacters = "deceptive-characters"

// addDeceptiveText records WeaknessDeceptiveCharacters on every element
// whose name, namespace, labels or annotations (keys or values), pod
// template labels or container names and images hold such characters.
func addDeceptiveText(ix *model.Index) {
	for _, n := range ix.Nodes() {
		var at model.Evidence
		if len(n.Evidence) > 0 {
			at = n.Evidence[0]
		}
		report := func(field, what, text string) {
			ev := at
			ev.Field, ev.Detail = field, fmt.Sprintf("%s holds control or invisible characters: %s", what, safetext.Cell(text))
			ix.AddControl(WeaknessDeceptiveCharacters, n.ID, ev)
		}
		if safetext.Suspicious(n.Namespace) {
			report("metadata.namespace", "the namespace", n.Namespace)
		}
		if safetext.Suspicious(n.Name) {
			report("metadata.name", "the name", n.Name)
		}
		checkMap := func(prefix, what string, m map[string]string) {
			for _, k := range sortedKeys(m) {
				switch {
				case safetext.Suspicious(k):
					report(discover.PathKey(prefix, k), what+" key", k)
				case safetext.Suspicious(m[k]):
					report(discover.PathKey(prefix, k), what+" "+safetext.Cell(k), m[k])
				}
			}
		}
		checkMap("metadata.labels", "label", n.Labels)
		checkMap("metadata.annotations", "annotation", n.Annotations)
		if w := n.Workload; w != nil {
			checkMap("spec.template.metadata.labels", "pod label", w.PodLabels)
			for _, c := range w.Containers {
				if safetext.Suspicious(c.Name) {
					report("spec.template.spec.containers", "a container name", c.Name)
				}
				if safetext.Suspicious(c.Image.Ref) {
					report("spec.template.spec.containers", "the image of container "+safetext.Cell(c.Name), c.Image.Ref)
				}
			}
		}
	}
}
