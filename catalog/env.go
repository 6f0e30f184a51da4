package catalog

import (
	"fmt"
	"reflect"
	"strings"

	"cel.dev/cel-go/cel"
	celtypes "cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/stridemap/stridemap/model"
)

// Context is what a condition knows about an element beyond the element
// itself: its place in the graph. The engine computes it once per element.
type Context struct {
	// Controls are the types of the controls detected on the element
	// ("run-as-non-root", "network-policy", "encrypted-in-transit" …).
	Controls []string `json:"controls"`
	// NamespaceControls are the controls on the element's namespace
	// boundary ("network-policy-default-deny-ingress" …).
	NamespaceControls []string `json:"namespaceControls"`
	// ClusterControls are the controls on the cluster boundary: admission
	// policy, log shipping, monitoring and the like.
	ClusterControls []string `json:"clusterControls"`
	// GraphControls are the types of the controls detected anywhere in the
	// graph, so a rule can ask about one element only when the system uses
	// a control elsewhere ("trace-export" on some workload).
	GraphControls []string `json:"graphControls"`
	// ControlDetails are the evidence details of the element's controls by
	// type, so a rule about a recorded weakness ("configmap-holds-credentials")
	// can say exactly which key or volume it is about. Nodes and boundaries.
	ControlDetails map[string][]string `json:"controlDetails"`
	// Exposed says the element is reachable from the internet by following
	// flows from external:internet.
	Exposed bool `json:"exposed"`
	// Data are the data classes the element holds or receives ("pii",
	// "payment", "credentials"), declared or propagated along flows.
	Data []string `json:"data"`
	// Callers and Callees are the IDs of the nodes with flows to and from a node.
	Callers []string `json:"callers"`
	Callees []string `json:"callees"`
	// SharedServiceAccount lists the other workloads that run as the same
	// service account in the same namespace.
	SharedServiceAccount []string `json:"sharedServiceAccount"`
	// AttackPath is the shortest chain of flows from the internet to the
	// node, as node IDs starting with external:internet; empty when the
	// internet cannot reach it.
	AttackPath []string `json:"attackPath"`
	// PathGaps say, hop by hop along AttackPath, which protections are
	// missing: unencrypted hops, hops no NetworkPolicy restricts, nodes that
	// authenticate no one.
	PathGaps []string `json:"pathGaps"`
	// FromControls and ToControls are the controls on a flow's two ends.
	FromControls []string `json:"fromControls"`
	ToControls   []string `json:"toControls"`
	// GraphObserved says some flow of the graph was seen on the wire
	// (stridemap observe), so a rule can tell "declared, never observed"
	// from "nothing was observed at all".
	GraphObserved bool `json:"graphObserved"`

	// lists holds the CEL value of each list field once a rule has read it
	// (see contextListCache), so a Context must not change after that.
	lists [12]any
}

// costLimit bounds the work one condition may do on one element, so a
// user's rule cannot stall a scan.
const costLimit = 100_000

// envs are the CEL environments conditions compile in, one per kind of
// element: a rule for flows cannot mention node, and the other way round.
type envs struct {
	node, flow, boundary *cel.Env
}

// celFieldName names a model field in rules as its JSON does, unless a cel
// tag names it: fields rules read but the store does not keep are
// json:"-" cel:"name".
func celFieldName(f reflect.StructField) string {
	for _, tag := range []string{"cel", "json"} {
		if name, _, _ := strings.Cut(f.Tag.Get(tag), ","); name != "" {
			return name
		}
	}
	return f.Name
}

func newEnvs() (*envs, error) {
	types := ext.NativeTypes(
		reflect.TypeFor[*model.Node](), reflect.TypeFor[*model.Edge](), reflect.TypeFor[*model.Boundary](), reflect.TypeFor[*Context](),
		ext.ParseStructField(celFieldName),
	)
	var adapter celtypes.Adapter // set once the first environment exists; the types are the same in all three
	common := []cel.EnvOption{types, contextListCache(), ext.Strings(), ext.Lists(), ext.Sets(), cel.Variable("ctx", cel.ObjectType("catalog.Context")),
		settingFunctions(func() celtypes.Adapter { return adapter })}
	nodeType, edgeType := cel.ObjectType("model.Node"), cel.ObjectType("model.Edge")
	e := &envs{}
	var err error
	if e.node, err = cel.NewEnv(append(common, cel.Variable("node", nodeType))...); err != nil {
		return nil, err
	}
	adapter = e.node.CELTypeAdapter()
	if e.flow, err = cel.NewEnv(append(common, cel.Variable("edge", edgeType), cel.Variable("from", nodeType), cel.Variable("to", nodeType))...); err != nil {
		return nil, err
	}
	if e.boundary, err = cel.NewEnv(append(common, cel.Variable("boundary", cel.ObjectType("model.Boundary")))...); err != nil {
		return nil, err
	}
	return e, nil
}

// envFor picks the environment of a rule's targets; a rule may not mix
// nodes, flows and boundaries.
func (e *envs) envFor(r *Rule) (*cel.Env, error) {
	var nodes, flows, bounds bool
	for _, t := range r.AppliesTo {
		switch {
		case t.IsNode():
			nodes = true
		case t == TargetFlow:
			flows = true
		case t == TargetBoundary || t == TargetCluster:
			bounds = true
		}
	}
	switch {
	case nodes && !flows && !bounds:
		return e.node, nil
	case flows && !nodes && !bounds:
		return e.flow, nil
	case bounds && !nodes && !flows:
		return e.boundary, nil
	}
	return nil, fmt.Errorf("appliesTo mixes nodes, flows and boundaries; split the rule")
}

// compile type-checks a rule's condition (bool) and evidence (list of
// strings) and prepares them to run. Rules from user catalogs run with a
// cost limit; built-in rules are reviewed with the code and run without
// the limit's bookkeeping, which is a quarter of their evaluation time,
// and with their conditions and evidence evaluated in Go where they can
// be (nativeOf, nativeEvidence).
func (e *envs) compile(r *Rule, limited bool) error {
	env, err := e.envFor(r)
	if err != nil {
		return err
	}
	condition, err := checked(env, r.Condition, cel.BoolType, "condition")
	if err != nil {
		return err
	}
	if r.condition, err = program(env, condition, "condition", limited); err != nil {
		return err
	}
	if !limited {
		// A native check has no cost limit to stop a user's rule at.
		r.native = nativeOf(condition.NativeRep().Expr(), variableTypes)
	}
	if r.Evidence != "" {
		evidence, err := checked(env, r.Evidence, cel.ListType(cel.StringType), "evidence")
		if err != nil {
			return err
		}
		if r.evidence, err = program(env, evidence, "evidence", limited); err != nil {
			return err
		}
		if !limited {
			r.nativeEvidence = nativeEvidence(evidence.NativeRep().Expr())
		}
	}
	return nil
}

// variableTypes are the Go types of the variables conditions read, for
// the checks nativeOf compiles.
var variableTypes = scope{
	"node": reflect.TypeFor[*model.Node](), "from": reflect.TypeFor[*model.Node](), "to": reflect.TypeFor[*model.Node](),
	"edge": reflect.TypeFor[*model.Edge](), "boundary": reflect.TypeFor[*model.Boundary](), "ctx": reflect.TypeFor[*Context](),
}

// checked parses and type-checks src, which must yield a want.
func checked(env *cel.Env, src string, want *cel.Type, what string) (*cel.Ast, error) {
	ast, issues := env.Compile(src)
	if issues != nil && issues.Err() != nil {
		return nil, fmt.Errorf("%s does not compile:\n%s", what, issues.Err())
	}
	if !ast.OutputType().IsExactType(want) {
		return nil, fmt.Errorf("%s must be a %s, but it is a %s", what, want, ast.OutputType())
	}
	return ast, nil
}

func program(env *cel.Env, ast *cel.Ast, what string, limited bool) (cel.Program, error) {
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if limited {
		opts = append(opts, cel.CostLimit(costLimit))
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return prg, nil
}

var reflectStringSlice = reflect.TypeFor[[]string]()
