package pages

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/threats"
	"github.com/stridemap/stridemap/tui/common"
	"github.com/stridemap/stridemap/tui/components"
)

// boundaryPrefix starts every boundary's ID (model.ClusterBoundaryID,
// model.NamespaceBoundaryID): a control or finding on one is on nothing
// the Map lists.
const boundaryPrefix = "boundary:"

// driftDetail collects a change's detail pane: a title, then lines and
// titled sections. Every value from the input is escaped as it is added.
type driftDetail struct {
	st    *common.Styles
	lines []string
}

func (d *driftDetail) title(sign, what, id string) {
	d.lines = append(d.lines, d.st.Bold.Render(sign+" "+what), d.st.Muted.Render(safetext.Text(id)))
}

func (d *driftDetail) section(title string) {
	d.lines = append(d.lines, "", d.st.Heading.Render(title))
}

// field adds "name: value" when value is not empty.
func (d *driftDetail) field(name, value string) {
	if value != "" {
		d.lines = append(d.lines, "  "+name+": "+safetext.Text(value))
	}
}

func (d *driftDetail) line(s string) { d.lines = append(d.lines, "  "+safetext.Text(s)) }

func (d *driftDetail) changes(list []threats.Change) {
	for _, c := range list {
		d.line(c.String())
	}
}

func (d *driftDetail) evidence(list []model.Evidence) {
	if len(list) == 0 {
		d.lines = append(d.lines, d.st.Muted.Render("  no evidence"))
	}
	for _, ev := range list {
		d.line("• " + evidenceLine(ev))
	}
}

// render wraps the lines to width.
func (d *driftDetail) render(width int) string {
	out := make([]string, len(d.lines))
	for i, l := range d.lines {
		out[i] = components.Wrap(l, width)
	}
	return strings.Join(out, "\n")
}

// evidenceLine is one piece of evidence: where, which object and field,
// what was seen.
func evidenceLine(ev model.Evidence) string {
	var parts []string
	if loc := ev.Location(); loc != "" {
		parts = append(parts, loc)
	}
	for _, s := range []string{ev.Object, ev.Field, ev.Detail} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "  ")
}

// driftRows lists the changes of d from scan oldID to scan newID, section
// by section, in the order stridemap diff prints them: added, removed,
// changed.
func driftRows(c *common.Common, d *threats.Drift, oldID, newID int64) []DriftRow {
	st := &c.Styles
	var rows []DriftRow
	add := func(section DriftSection, sign, id, summary, target string, gone bool, fill func(*driftDetail)) {
		if strings.HasPrefix(target, boundaryPrefix) {
			target = "" // a namespace or the cluster: not on the Map
		}
		rows = append(rows, DriftRow{Section: section, Sign: sign, ID: safetext.Text(id), Summary: safetext.Text(summary),
			Target: target, Gone: gone, detail: func(width int) string {
				dd := &driftDetail{st: st}
				fill(dd)
				return dd.render(width)
			}})
	}
	scans := fmt.Sprintf("scan #%d → scan #%d", oldID, newID)
	changed := func(section DriftSection, what, id string, list []threats.Change, extra func(*driftDetail)) {
		summary := ""
		if len(list) > 0 {
			summary = list[0].String()
			if len(list) > 1 {
				summary += fmt.Sprintf(" (+%d more)", len(list)-1)
			}
		}
		add(section, signChanged, id, summary, id, false, func(dd *driftDetail) {
			dd.title(signChanged, what+" changed", id)
			if extra != nil {
				extra(dd)
			}
			dd.section("Changes  " + scans)
			dd.changes(list)
		})
	}

	for _, n := range d.NodesAdded {
		add(ElementsSection, signAdded, n.ID, string(n.Type), n.ID, false, func(dd *driftDetail) {
			dd.title(signAdded, "element added in scan #"+strconv.FormatInt(newID, 10), n.ID)
			nodeFields(dd, &n)
		})
	}
	for _, n := range d.NodesRemoved {
		add(ElementsSection, signRemoved, n.ID, string(n.Type), n.ID, true, func(dd *driftDetail) {
			dd.title(signRemoved, "element removed after scan #"+strconv.FormatInt(oldID, 10), n.ID)
			nodeFields(dd, &n)
		})
	}
	for _, ch := range d.NodesChanged {
		changed(ElementsSection, "element", ch.ID, ch.Changes, nil)
	}

	for _, e := range d.EdgesAdded {
		add(FlowsSection, signAdded, e.ID, flowSummary(&e), e.ID, false, func(dd *driftDetail) {
			dd.title(signAdded, "flow added in scan #"+strconv.FormatInt(newID, 10), e.ID)
			edgeFields(dd, &e)
		})
	}
	for _, e := range d.EdgesRemoved {
		add(FlowsSection, signRemoved, e.ID, flowSummary(&e), e.ID, true, func(dd *driftDetail) {
			dd.title(signRemoved, "flow removed after scan #"+strconv.FormatInt(oldID, 10), e.ID)
			edgeFields(dd, &e)
		})
	}
	for _, ch := range d.EdgesChanged {
		changed(FlowsSection, "flow", ch.ID, ch.Changes, func(dd *driftDetail) {
			if ch.Before.ID != ch.ID {
				dd.field("was", ch.Before.ID)
			}
			edgeFields(dd, &ch.After)
		})
	}

	for _, b := range d.BoundariesAdded {
		add(BoundariesSection, signAdded, b.ID, members(len(b.Members)), "", false, func(dd *driftDetail) {
			dd.title(signAdded, "trust boundary added", b.ID)
			boundaryFields(dd, &b)
		})
	}
	for _, b := range d.BoundariesRemoved {
		add(BoundariesSection, signRemoved, b.ID, members(len(b.Members)), "", true, func(dd *driftDetail) {
			dd.title(signRemoved, "trust boundary removed", b.ID)
			boundaryFields(dd, &b)
		})
	}
	for _, ch := range d.BoundariesChanged {
		changed(BoundariesSection, "trust boundary", ch.ID, ch.Changes, nil)
	}

	for _, ctl := range d.ControlsAdded {
		add(ControlsSection, signAdded, ctl.ID, "gained: "+ctl.Type, ctl.Target, false, func(dd *driftDetail) {
			dd.title(signAdded, "control gained", ctl.ID)
			dd.field("type", ctl.Type)
			dd.field("on", ctl.Target)
			dd.section(fmt.Sprintf("Evidence  scan #%d", newID))
			dd.evidence(ctl.Evidence)
		})
	}
	for _, ctl := range d.ControlsRemoved {
		add(ControlsSection, signRemoved, ctl.ID, "lost: "+ctl.Type, ctl.Target, true, func(dd *driftDetail) {
			dd.title(signRemoved, "control lost", ctl.ID)
			dd.field("type", ctl.Type)
			dd.field("on", ctl.Target)
			dd.section(fmt.Sprintf("Evidence  scan #%d (gone since)", oldID))
			dd.evidence(ctl.Evidence)
		})
	}
	for _, ch := range d.ControlsChanged {
		add(ControlsSection, signChanged, ch.ID, "evidence changed", ch.After.Target, false, func(dd *driftDetail) {
			dd.title(signChanged, "control's evidence changed", ch.ID)
			dd.field("type", ch.After.Type)
			dd.field("on", ch.After.Target)
			dd.section(fmt.Sprintf("Before  scan #%d", oldID))
			dd.evidence(ch.Before.Evidence)
			dd.section(fmt.Sprintf("After  scan #%d", newID))
			dd.evidence(ch.After.Evidence)
		})
	}

	gone := make(map[string]bool, len(d.NodesRemoved)+len(d.EdgesRemoved))
	for _, n := range d.NodesRemoved {
		gone[n.ID] = true
	}
	for _, e := range d.EdgesRemoved {
		gone[e.ID] = true
	}
	for _, f := range d.FindingsNew {
		add(FindingsSection, signAdded, f.ID, "new "+string(f.Severity)+triageSuffix(f.Triage), f.Element, false, func(dd *driftDetail) {
			dd.title(signAdded, "new finding", f.ID)
			findingFields(dd, &f)
		})
	}
	for _, f := range d.FindingsFixed {
		what := "fixed"
		if gone[f.Element] {
			what = "gone with its element"
		}
		add(FindingsSection, signRemoved, f.ID, what+" (was "+string(f.Severity)+")", f.Element, gone[f.Element], func(dd *driftDetail) {
			dd.title(signRemoved, "finding "+what, f.ID)
			findingFields(dd, &f)
		})
	}
	for _, ch := range d.FindingsChanged {
		f := ch.After
		summary := "severity " + string(ch.Before.Severity) + " → " + string(f.Severity) + triageSuffix(f.Triage)
		add(FindingsSection, signChanged, f.ID, summary, f.Element, false, func(dd *driftDetail) {
			dd.title(signChanged, "finding changed severity", f.ID)
			findingFields(dd, &f)
			dd.section("Changes  " + scans)
			dd.changes(ch.Changes)
		})
	}
	for _, n := range d.FindingsNoLongerAssessed {
		f := n.Finding
		add(FindingsSection, signUnassessed, f.ID, "no longer assessed (was "+string(f.Severity)+")", f.Element, false, func(dd *driftDetail) {
			dd.title(signUnassessed, "finding no longer assessed: not fixed, not known", f.ID)
			findingFields(dd, &f)
			dd.section("Why")
			dd.line(n.Reason.Reason())
		})
	}

	for _, ap := range d.PathsNew {
		add(PathsSection, signAdded, ap.Finding, strings.Join(ap.Nodes, " → "), ap.Element, false, func(dd *driftDetail) {
			dd.title(signAdded, "new attack path", ap.Finding)
			pathHops(dd, ap.Nodes)
		})
	}
	for _, ap := range d.PathsClosed {
		add(PathsSection, signRemoved, ap.Finding, "closed: "+strings.Join(ap.Nodes, " → "), ap.Element, gone[ap.Element], func(dd *driftDetail) {
			dd.title(signRemoved, "attack path closed", ap.Finding)
			pathHops(dd, ap.Nodes)
		})
	}
	for _, ch := range d.PathsChanged {
		add(PathsSection, signChanged, ch.ID, strings.Join(ch.After.Nodes, " → "), ch.After.Element, false, func(dd *driftDetail) {
			dd.title(signChanged, "attack path runs another way", ch.ID)
			dd.section(fmt.Sprintf("Before  scan #%d", oldID))
			pathHops(dd, ch.Before.Nodes)
			dd.section(fmt.Sprintf("After  scan #%d", newID))
			pathHops(dd, ch.After.Nodes)
		})
	}
	return rows
}

func nodeFields(dd *driftDetail, n *model.Node) {
	dd.field("type", string(n.Type))
	dd.field("kind", n.Kind)
	dd.field("namespace", n.Namespace)
	dd.field("origin", string(n.Origin))
	if w := n.Workload; w != nil {
		dd.field("service account", w.ServiceAccount)
		for _, ctr := range w.Containers {
			dd.field("container "+ctr.Name, ctr.Image.Ref)
		}
	}
	for _, x := range n.Exposure {
		dd.field("exposed", x.Kind+" via "+x.Via)
	}
	for _, dc := range n.Data {
		dd.field("data", dc.Class)
	}
	if len(n.Evidence) > 0 {
		dd.section("Evidence")
		dd.evidence(n.Evidence)
	}
}

// flowSummary is a flow on one line: port and protocol, encryption,
// policy, and how it is known.
func flowSummary(e *model.Edge) string {
	var how []string
	if e.Declared {
		how = append(how, "declared")
	}
	if e.Observed {
		how = append(how, "observed")
	}
	policy := e.Policy
	if policy == "" {
		policy = "no policy"
	}
	port := e.Protocol
	if e.Port != 0 {
		port += "/" + strconv.Itoa(int(e.Port))
	}
	return strings.Join([]string{port, string(e.Encryption), policy, strings.Join(how, "+")}, ", ")
}

func edgeFields(dd *driftDetail, e *model.Edge) {
	dd.field("from", e.From)
	dd.field("to", e.To)
	dd.field("flow", flowSummary(e))
	dd.field("via", e.Via)
	if len(e.Crosses) > 0 {
		dd.field("crosses", strings.Join(e.Crosses, ", "))
	}
	if len(e.Evidence) > 0 {
		dd.section("Evidence")
		dd.evidence(e.Evidence)
	}
}

func boundaryFields(dd *driftDetail, b *model.Boundary) {
	dd.field("type", string(b.Type))
	dd.section(fmt.Sprintf("Members  %d", len(b.Members)))
	for _, m := range b.Members {
		dd.line(m)
	}
}

func findingFields(dd *driftDetail, f *threats.Finding) {
	dd.field("title", f.Title())
	dd.field("severity", string(f.Severity))
	dd.field("category", string(f.Stride))
	dd.field("element", f.Element)
	if f.Triage != nil {
		dd.field("triage", string(f.Triage.Status)+" by "+f.Triage.By+": "+f.Triage.Reason)
	}
}

func pathHops(dd *driftDetail, nodes []string) {
	for j, hop := range nodes {
		prefix := ""
		if j > 0 {
			prefix = strings.Repeat(" ", min(j-1, 6)) + "└→ "
		}
		dd.line(prefix + hop)
	}
}

func triageSuffix(t *threats.Triage) string {
	if t == nil {
		return ""
	}
	return " [" + string(t.Status) + "]"
}

func members(n int) string {
	if n == 1 {
		return "1 member"
	}
	return strconv.Itoa(n) + " members"
}
