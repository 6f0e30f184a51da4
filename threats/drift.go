package threats

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
)

// Snapshot is one scan as Compare sees it: its graph, its findings (with
// the triage in force, when the caller applied it) and the rules its
// coverage gaps left unassessed. Findings summarised from the store's
// columns (without their JSON) compare by ID and severity; their attack
// paths, which live in the evidence, are then not compared.
type Snapshot struct {
	Graph       *model.Graph
	Findings    []Finding
	NotAssessed []store.NotAssessed
}

// Change is one field of an element that differs between two scans, each
// side rendered as text ("" when the field is absent on that side).
type Change struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// String says what changed as one line: "field: before → after", or
// "field: + after" and "field: − before" when one side has none.
func (c Change) String() string {
	switch {
	case c.Before == "":
		return c.Field + ": + " + c.After
	case c.After == "":
		return c.Field + ": − " + c.Before
	}
	return c.Field + ": " + c.Before + " → " + c.After
}

// Changed is an element present in both scans whose fields differ: both
// versions and what changed, field by field, in a fixed order.
type Changed[T any] struct {
	ID            string
	Before, After T
	Changes       []Change
}

// AttackPath is a chain of flows from the internet to an element, as a
// finding reports it in its evidence ("path: a → b → c"): the attack-path
// rules' findings, and any user rule that names a path the same way.
type AttackPath struct {
	Finding string   `json:"finding"` // the finding's ID: how a path is matched across scans
	Element string   `json:"element"` // where the path ends
	Nodes   []string `json:"nodes"`   // the elements along it, from the internet
}

// NoLongerAssessed is a finding of the earlier scan that the later one
// could not assess: a kind its verdict depends on was not read. It is
// not fixed; nobody knows.
type NoLongerAssessed struct {
	Finding Finding
	Reason  store.NotAssessed
}

// Drift is what changed between two scans. Elements, flows, boundaries,
// controls and findings are matched by stable ID, so a renamed workload is
// one element removed and one added; a flow whose port changed (its ID
// names the port) is matched by its ends when it is the only flow between
// them on each side, and reported changed. Every list is in ID order and
// nil when empty.
type Drift struct {
	NodesAdded, NodesRemoved []model.Node
	// NodesChanged compares type, kind, origin, containers' images and
	// digests (also as running), exposure to the internet (directly, and
	// reachable along flows), service account, security context and data
	// classification.
	NodesChanged []Changed[model.Node]

	EdgesAdded, EdgesRemoved []model.Edge
	// EdgesChanged compares how the flow is known (declared, observed),
	// port, protocol, encryption, NetworkPolicy verdict and the Service or
	// route it goes through.
	EdgesChanged []Changed[model.Edge]

	BoundariesAdded, BoundariesRemoved []model.Boundary
	// BoundariesChanged lists members that joined (After set) or left
	// (Before set), one Change each.
	BoundariesChanged []Changed[model.Boundary]

	// ControlsAdded were gained, with the later scan's evidence;
	// ControlsRemoved were lost, with the earlier scan's evidence.
	ControlsAdded, ControlsRemoved []model.Control
	// ControlsChanged are controls whose evidence changed (objects or
	// details; a line that moved is no change).
	ControlsChanged []Changed[model.Control]

	// FindingsNew are threats the later scan raises and the earlier did
	// not; FindingsFixed are threats it no longer raises (fixed, or their
	// element is gone) and could assess.
	FindingsNew, FindingsFixed []Finding
	// FindingsChanged are in both scans with another severity. After holds
	// the triage in force, carried by ID from the earlier decision.
	FindingsChanged []Changed[Finding]
	// FindingsNoLongerAssessed were raised by the earlier scan and fall in
	// a coverage gap of the later one: not fixed, not known.
	FindingsNoLongerAssessed []NoLongerAssessed
	// FindingsUnchanged counts the findings in both scans at one severity.
	FindingsUnchanged int

	// PathsNew and PathsClosed are attack paths that appeared and that
	// are gone; PathsChanged run through other elements than before.
	PathsNew, PathsClosed []AttackPath
	PathsChanged          []Changed[AttackPath]
}

// Compare computes the drift from before to after. A nil graph counts as
// an empty one. It works in time linear in the two scans' sizes: each side
// is indexed once by ID and each element compared once.
func Compare(before, after Snapshot) Drift {
	bg, ag := graphOrEmpty(before.Graph), graphOrEmpty(after.Graph)
	return compare(before, after, func() (map[string]bool, map[string]bool) {
		return internetReach(flowEnds(bg)), internetReach(flowEnds(ag))
	})
}

// compare is Compare with the elements' reachability from the internet
// before and after computed by reach, which is called only when an
// element is in both scans.
func compare(before, after Snapshot, reach func() (before, after map[string]bool)) Drift {
	var d Drift
	bg, ag := graphOrEmpty(before.Graph), graphOrEmpty(after.Graph)
	nodeID := func(n *model.Node) string { return n.ID }
	d.NodesAdded, d.NodesRemoved, d.NodesChanged = diffByID(bg.Nodes, ag.Nodes, nodeID, nodeChanges(reach))
	d.EdgesAdded, d.EdgesRemoved, d.EdgesChanged = diffByID(bg.Edges, ag.Edges, func(e *model.Edge) string { return e.ID }, edgeChanges)
	d.EdgesAdded, d.EdgesRemoved, d.EdgesChanged = matchPortChanges(d.EdgesAdded, d.EdgesRemoved, d.EdgesChanged)
	d.BoundariesAdded, d.BoundariesRemoved, d.BoundariesChanged = diffByID(bg.Boundaries, ag.Boundaries, func(b *model.Boundary) string { return b.ID }, memberChanges)
	d.ControlsAdded, d.ControlsRemoved, d.ControlsChanged = diffByID(bg.Controls, ag.Controls, func(c *model.Control) string { return c.ID }, controlChanges)
	d.compareFindings(before, after)
	return d
}

// Empty reports whether nothing changed.
func (d Drift) Empty() bool {
	return len(d.NodesAdded)+len(d.NodesRemoved)+len(d.NodesChanged)+
		len(d.EdgesAdded)+len(d.EdgesRemoved)+len(d.EdgesChanged)+
		len(d.BoundariesAdded)+len(d.BoundariesRemoved)+len(d.BoundariesChanged)+
		len(d.ControlsAdded)+len(d.ControlsRemoved)+len(d.ControlsChanged)+
		len(d.FindingsNew)+len(d.FindingsFixed)+len(d.FindingsChanged)+len(d.FindingsNoLongerAssessed)+
		len(d.PathsNew)+len(d.PathsClosed)+len(d.PathsChanged) == 0
}

// NewAtOrAbove returns the new findings still open (untriaged) whose
// severity is at least min: what a CI gate on drift fails on.
func (d Drift) NewAtOrAbove(min Severity) []Finding {
	var out []Finding
	for _, f := range d.FindingsNew {
		if f.IsOpen() && f.Severity.Rank() >= min.Rank() {
			out = append(out, f)
		}
	}
	return out
}

func (d *Drift) compareFindings(before, after Snapshot) {
	unassessed := make(map[string]store.NotAssessed, len(after.NotAssessed))
	for _, n := range after.NotAssessed {
		unassessed[n.ID()] = n
	}
	var gone []Finding
	d.FindingsNew, gone, d.FindingsChanged = diffByID(before.Findings, after.Findings, func(f *Finding) string { return f.ID }, findingChanges)
	for _, f := range gone {
		if n, ok := unassessed[f.ID]; ok {
			d.FindingsNoLongerAssessed = append(d.FindingsNoLongerAssessed, NoLongerAssessed{Finding: f, Reason: n})
		} else {
			d.FindingsFixed = append(d.FindingsFixed, f)
		}
	}
	d.FindingsUnchanged = len(after.Findings) - len(d.FindingsNew) - len(d.FindingsChanged)

	pathID := func(p *AttackPath) string { return p.Finding }
	var closed []AttackPath
	d.PathsNew, closed, d.PathsChanged = diffByID(attackPaths(before.Findings), attackPaths(after.Findings), pathID,
		func(b, a *AttackPath) []Change {
			if slices.Equal(b.Nodes, a.Nodes) {
				return nil
			}
			return []Change{{Field: "path", Before: strings.Join(b.Nodes, " → "), After: strings.Join(a.Nodes, " → ")}}
		})
	for _, p := range closed {
		if _, ok := unassessed[p.Finding]; !ok { // a path nobody could assess is not closed
			d.PathsClosed = append(d.PathsClosed, p)
		}
	}
}

// pathPrefix starts the evidence detail that names an attack path.
const pathPrefix = "path: "

// attackPaths lists the paths the findings name in their evidence.
func attackPaths(findings []Finding) []AttackPath {
	var out []AttackPath
	for _, f := range findings {
		for _, ev := range f.Evidence {
			if rest, ok := strings.CutPrefix(ev.Detail, pathPrefix); ok {
				out = append(out, AttackPath{Finding: f.ID, Element: f.Element, Nodes: strings.Split(rest, " → ")})
				break
			}
		}
	}
	return out
}

func findingChanges(b, a *Finding) []Change {
	if b.Severity == a.Severity {
		return nil
	}
	return []Change{{Field: "severity", Before: string(b.Severity), After: string(a.Severity)}}
}

func graphOrEmpty(g *model.Graph) *model.Graph {
	if g == nil {
		return &model.Graph{}
	}
	return g
}

// diffByID returns the elements of after whose ID is not in before
// (added), those of before whose ID is not in after (removed), and those
// in both for which changes reports differences; each sorted by ID.
func diffByID[T any](before, after []T, id func(*T) string, changes func(b, a *T) []Change) (added, removed []T, changed []Changed[T]) {
	beforeAt := make(map[string]int, len(before))
	for i := range before {
		beforeAt[id(&before[i])] = i
	}
	afterIDs := make(map[string]struct{}, len(after))
	for i := range after {
		key := id(&after[i])
		afterIDs[key] = struct{}{}
		j, ok := beforeAt[key]
		if !ok {
			added = append(added, after[i])
			continue
		}
		if c := changes(&before[j], &after[i]); len(c) > 0 {
			changed = append(changed, Changed[T]{ID: key, Before: before[j], After: after[i], Changes: c})
		}
	}
	for i := range before {
		if _, ok := afterIDs[id(&before[i])]; !ok {
			removed = append(removed, before[i])
		}
	}
	byID := func(a, b T) int { return cmp.Compare(id(&a), id(&b)) }
	slices.SortStableFunc(added, byID)
	slices.SortStableFunc(removed, byID)
	slices.SortStableFunc(changed, func(a, b Changed[T]) int { return cmp.Compare(a.ID, b.ID) })
	return added, removed, changed
}

// changes collects the fields that differ, in the order they are checked.
type changes []Change

func (c *changes) add(field, before, after string) {
	if before != after {
		*c = append(*c, Change{Field: field, Before: before, After: after})
	}
}

// nodeChanges compares two versions of an element. Reachability from the
// internet is a property of the whole graph, computed once per side.
func nodeChanges(reach func() (before, after map[string]bool)) func(b, a *model.Node) []Change {
	var reachBefore, reachAfter map[string]bool
	return func(b, a *model.Node) []Change {
		if reachBefore == nil {
			reachBefore, reachAfter = reach()
		}
		var c changes
		c.add("type", string(b.Type), string(a.Type))
		c.add("kind", b.Kind, a.Kind)
		c.add("origin", string(b.Origin), string(a.Origin))
		c.add("exposure", exposureText(b.Exposure), exposureText(a.Exposure))
		c.add("reachable from the internet", yesNo(reachBefore[b.ID]), yesNo(reachAfter[a.ID]))
		c.add("data", dataText(b.Data), dataText(a.Data))
		bw, aw := orEmpty(b.Workload), orEmpty(a.Workload)
		c.add("serviceAccount", bw.ServiceAccount, aw.ServiceAccount)
		c.add("automountServiceAccountToken", boolPtr(bw.AutomountServiceAccountToken), boolPtr(aw.AutomountServiceAccountToken))
		c.add("hostNetwork", yesNo(bw.HostNetwork), yesNo(aw.HostNetwork))
		c.add("hostPID", yesNo(bw.HostPID), yesNo(aw.HostPID))
		c.add("hostIPC", yesNo(bw.HostIPC), yesNo(aw.HostIPC))
		c.add("meshSidecar", bw.MeshSidecar, aw.MeshSidecar)
		containerChanges(&c, bw.Containers, aw.Containers)
		runningChanges(&c, bw.Running, aw.Running)
		return c
	}
}

func orEmpty(w *model.Workload) *model.Workload {
	if w == nil {
		return &model.Workload{}
	}
	return w
}

// containerChanges compares containers by name: their images and
// security contexts.
func containerChanges(c *changes, before, after []model.Container) {
	byName := make(map[string]*model.Container, len(before))
	for i := range before {
		byName[before[i].Name] = &before[i]
	}
	seen := make(map[string]bool, len(after))
	for i := range after {
		a := &after[i]
		seen[a.Name] = true
		field := "container " + a.Name
		b := byName[a.Name]
		if b == nil {
			c.add(field, "", a.Image.Ref)
			continue
		}
		c.add(field+" image", b.Image.Ref, a.Image.Ref)
		bs, as := securityText(b.Security), securityText(a.Security)
		for _, key := range securityFields {
			c.add(field+" "+key, bs[key], as[key])
		}
	}
	for i := range before {
		if !seen[before[i].Name] {
			c.add("container "+before[i].Name, before[i].Image.Ref, "")
		}
	}
}

// runningChanges compares what the pods ran, by container name: the
// digest that ran is the image, whatever its tag said.
func runningChanges(c *changes, before, after []model.RunningContainer) {
	text := func(list []model.RunningContainer) map[string]string {
		out := make(map[string]string, len(list))
		for _, r := range list {
			out[r.Name] = strings.TrimSpace(r.Image + " " + r.Digest)
		}
		return out
	}
	b, a := text(before), text(after)
	names := make([]string, 0, len(a)+len(b))
	for name := range a {
		names = append(names, name)
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		c.add("running "+name, b[name], a[name])
	}
}

// securityFields are the security context's settings in the order a
// change lists them.
var securityFields = []string{"privileged", "runAsNonRoot", "runAsUser", "allowPrivilegeEscalation",
	"readOnlyRootFilesystem", "capabilitiesAdd", "capabilitiesDrop", "seccompProfile"}

func securityText(s model.Security) map[string]string {
	out := map[string]string{
		"privileged":               yesNo(s.Privileged),
		"runAsNonRoot":             boolPtr(s.RunAsNonRoot),
		"allowPrivilegeEscalation": boolPtr(s.AllowPrivilegeEscalation),
		"readOnlyRootFilesystem":   yesNo(s.ReadOnlyRootFilesystem),
		"capabilitiesAdd":          strings.Join(s.CapabilitiesAdd, ","),
		"capabilitiesDrop":         strings.Join(s.CapabilitiesDrop, ","),
		"seccompProfile":           s.SeccompProfile,
	}
	if s.RunAsUser != nil {
		out["runAsUser"] = strconv.FormatInt(*s.RunAsUser, 10)
	}
	return out
}

func exposureText(list []model.Exposure) string {
	parts := make([]string, 0, len(list))
	for _, x := range list {
		p := x.Kind + " via " + x.Via
		if x.Port != 0 {
			p += fmt.Sprintf(" port %d", x.Port)
		}
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

func dataText(list []model.DataClass) string {
	classes := make([]string, 0, len(list))
	for _, d := range list {
		classes = append(classes, d.Class)
	}
	slices.Sort(classes)
	return strings.Join(slices.Compact(classes), ",")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func boolPtr(b *bool) string {
	if b == nil {
		return ""
	}
	return yesNo(*b)
}

// flowEnds lists the ends of g's flows.
func flowEnds(g *model.Graph) []store.FlowEnds {
	ends := make([]store.FlowEnds, len(g.Edges))
	for i := range g.Edges {
		ends[i] = store.FlowEnds{From: g.Edges[i].From, To: g.Edges[i].To}
	}
	return ends
}

// internetReach marks the elements reachable from the internet along
// flows, breadth first from model.InternetID.
func internetReach(flows []store.FlowEnds) map[string]bool {
	out := map[string][]string{}
	for _, f := range flows {
		out[f.From] = append(out[f.From], f.To)
	}
	reached := map[string]bool{}
	queue := []string{model.InternetID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, to := range out[id] {
			if !reached[to] && to != model.InternetID {
				reached[to] = true
				queue = append(queue, to)
			}
		}
	}
	return reached
}

func edgeChanges(b, a *model.Edge) []Change {
	var c changes
	c.add("port", portText(b.Port), portText(a.Port))
	c.add("targetPort", portText(b.TargetPort), portText(a.TargetPort))
	c.add("protocol", b.Protocol, a.Protocol)
	c.add("encryption", string(b.Encryption), string(a.Encryption))
	c.add("policy", policyText(b.Policy), policyText(a.Policy))
	c.add("declared", yesNo(b.Declared), yesNo(a.Declared))
	c.add("observed", yesNo(b.Observed), yesNo(a.Observed))
	c.add("via", b.Via, a.Via)
	return c
}

func portText(p int32) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(int(p))
}

// policyText names the verdict "" (no policy selects the destination).
func policyText(p string) string {
	if p == "" {
		return "unrestricted"
	}
	return p
}

// matchPortChanges pairs a removed flow with an added one between the same
// two elements, when each is the only one of its side between them: the
// same flow on another port. The pair becomes one changed flow, under the
// later ID.
func matchPortChanges(added, removed []model.Edge, changed []Changed[model.Edge]) ([]model.Edge, []model.Edge, []Changed[model.Edge]) {
	ends := func(e *model.Edge) string { return e.From + "\x00" + e.To }
	count := func(list []model.Edge) map[string]int {
		n := make(map[string]int, len(list))
		for i := range list {
			n[ends(&list[i])]++
		}
		return n
	}
	addedN, removedN := count(added), count(removed)
	gone := make(map[string]*model.Edge)
	for i := range removed {
		if k := ends(&removed[i]); addedN[k] == 1 && removedN[k] == 1 {
			gone[k] = &removed[i]
		}
	}
	if len(gone) == 0 {
		return added, removed, changed
	}
	var keptAdded []model.Edge
	for i := range added {
		b := gone[ends(&added[i])]
		if b == nil {
			keptAdded = append(keptAdded, added[i])
			continue
		}
		changed = append(changed, Changed[model.Edge]{ID: added[i].ID, Before: *b, After: added[i], Changes: edgeChanges(b, &added[i])})
	}
	var keptRemoved []model.Edge
	for i := range removed {
		if gone[ends(&removed[i])] == nil {
			keptRemoved = append(keptRemoved, removed[i])
		}
	}
	slices.SortStableFunc(changed, func(a, b Changed[model.Edge]) int { return cmp.Compare(a.ID, b.ID) })
	return keptAdded, keptRemoved, changed
}

// memberChanges lists the members that left and joined a boundary.
func memberChanges(b, a *model.Boundary) []Change {
	in := func(list []string) map[string]bool {
		set := make(map[string]bool, len(list))
		for _, m := range list {
			set[m] = true
		}
		return set
	}
	bm, am := in(b.Members), in(a.Members)
	var c []Change
	for _, m := range b.Members {
		if !am[m] {
			c = append(c, Change{Field: "member", Before: m})
		}
	}
	for _, m := range a.Members {
		if !bm[m] {
			c = append(c, Change{Field: "member", After: m})
		}
	}
	slices.SortFunc(c, func(x, y Change) int { return cmp.Compare(x.Before+x.After, y.Before+y.After) })
	return c
}

// controlChanges compares a control's evidence by what it points at and
// says, not by line: editing a file above a control moves it, no more.
func controlChanges(b, a *model.Control) []Change {
	text := func(list []model.Evidence) string {
		parts := make([]string, 0, len(list))
		for _, ev := range list {
			parts = append(parts, strings.TrimSpace(strings.Join([]string{ev.File, ev.Object, ev.Field, ev.Detail}, " ")))
		}
		slices.Sort(parts)
		return strings.Join(parts, "; ")
	}
	var c changes
	c.add("evidence", text(b.Evidence), text(a.Evidence))
	return c
}
