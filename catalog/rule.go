package catalog

import (
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"

	"github.com/stridemap/stridemap/controls"
)

// Stride is one STRIDE category.
type Stride string

const (
	Spoofing              Stride = "spoofing"
	Tampering             Stride = "tampering"
	Repudiation           Stride = "repudiation"
	InformationDisclosure Stride = "information-disclosure"
	DenialOfService       Stride = "denial-of-service"
	ElevationOfPrivilege  Stride = "elevation-of-privilege"
)

// Strides lists the categories in STRIDE order.
var Strides = []Stride{Spoofing, Tampering, Repudiation, InformationDisclosure, DenialOfService, ElevationOfPrivilege}

// Letter is the category's letter in "STRIDE".
func (s Stride) Letter() string {
	if i := slices.Index(Strides, s); i >= 0 {
		return string("STRIDE"[i])
	}
	return "?"
}

// ParseStride accepts a category's name or its letter (case-insensitive).
func ParseStride(s string) (Stride, error) {
	for _, c := range Strides {
		if strings.EqualFold(s, string(c)) || strings.EqualFold(s, c.Letter()) {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown STRIDE category %q: use one of S T R I D E or %s", s, strings.Join(strideNames(), ", "))
}

func strideNames() []string {
	var out []string
	for _, s := range Strides {
		out = append(out, string(s))
	}
	return out
}

// Target is the kind of element a rule applies to.
type Target string

const (
	TargetProcess   Target = "process"
	TargetDataStore Target = "datastore"
	TargetExternal  Target = "external"
	TargetGateway   Target = "gateway"
	TargetFlow      Target = "flow"
	TargetBoundary  Target = "boundary"
	TargetCluster   Target = "cluster"
)

var targets = []Target{TargetProcess, TargetDataStore, TargetExternal, TargetGateway, TargetFlow, TargetBoundary, TargetCluster}

// IsNode reports whether the target is a kind of node.
func (t Target) IsNode() bool {
	return t == TargetProcess || t == TargetDataStore || t == TargetExternal || t == TargetGateway
}

// Level rates likelihood and impact.
type Level string

const (
	Low    Level = "low"
	Medium Level = "medium"
	High   Level = "high"
)

// Score is the level as a number: low 1, medium 2, high 3.
func (l Level) Score() int {
	switch l {
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	}
	return 0
}

// References point to the public catalogues a rule maps to.
type References struct {
	CWE    []string `yaml:"cwe,omitempty" json:"cwe,omitempty"`       // "CWE-250"
	CAPEC  []string `yaml:"capec,omitempty" json:"capec,omitempty"`   // "CAPEC-122"
	ATTACK []string `yaml:"attack,omitempty" json:"attack,omitempty"` // MITRE ATT&CK: "T1611"
	OWASP  []string `yaml:"owasp,omitempty" json:"owasp,omitempty"`   // "API2:2023 Broken Authentication"
	NSA    []string `yaml:"nsa,omitempty" json:"nsa,omitempty"`       // NSA/CISA Kubernetes Hardening Guide section
}

// Rule is one threat: when its condition holds for an element, the element
// lacks the control named by MissingControl and a finding is raised.
type Rule struct {
	ID             string     `yaml:"id" json:"id"`
	Title          string     `yaml:"title" json:"title"`
	Stride         Stride     `yaml:"stride" json:"stride"`
	AppliesTo      []Target   `yaml:"appliesTo" json:"appliesTo"`
	Condition      string     `yaml:"condition" json:"condition"`
	Evidence       string     `yaml:"evidence,omitempty" json:"evidence,omitempty"` // optional CEL: list(string) of details
	MissingControl string     `yaml:"missingControl" json:"missingControl"`
	Likelihood     Level      `yaml:"likelihood" json:"likelihood"`
	Impact         Level      `yaml:"impact" json:"impact"`
	Description    string     `yaml:"description" json:"description"`
	Mitigation     string     `yaml:"mitigation" json:"mitigation"`
	References     References `yaml:"references" json:"references"`
	// Needs lists kinds ("group/Kind", "/Kind" for the core group) the
	// verdict depends on besides those that show MissingControl
	// (controls.EvidenceKinds): a rule that reads a namespace's LimitRange
	// defaults, say. Where one could not be read, the rule is not assessed.
	Needs []string `yaml:"needs,omitempty" json:"needs,omitempty"`
	// Disabled, set by a user catalog, removes the rule.
	Disabled bool `yaml:"disabled,omitempty" json:"disabled,omitempty"`

	// Source is where the rule was defined: "builtin:rules/x.yaml:12" or a
	// user file and line.
	Source string `yaml:"-" json:"source"`

	condition cel.Program
	evidence  cel.Program
	// native decides the condition in Go where it can (nativeOf); nil
	// when it never can.
	native nativeCheck
	// nativeEvidence evaluates the evidence in Go where it can; nil when
	// it never can.
	nativeEvidence func(v *Vars) ([]string, bool)
}

// DependsOn lists the kinds the rule's verdict depends on: those that show
// its missing control, and Needs.
func (r *Rule) DependsOn() []string {
	kinds := slices.Concat(controls.EvidenceKinds(r.MissingControl), r.Needs)
	slices.Sort(kinds)
	return slices.Compact(kinds)
}

// Applies reports whether the rule applies to elements of kind t.
func (r *Rule) Applies(t Target) bool { return slices.Contains(r.AppliesTo, t) }
