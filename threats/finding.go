package threats

import (
	"encoding/json"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/model"
)

// Severity ranks findings.
type Severity string

const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Severities lists the levels from least to most severe.
var Severities = []Severity{Low, Medium, High, Critical}

// Rank orders severities: low 1 … critical 4; 0 for an unknown one.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i + 1
		}
	}
	return 0
}

// Finding is one threat on one element.
type Finding struct {
	ID          string // RULE@ELEMENT
	RuleID      string
	Stride      catalog.Stride
	Severity    Severity
	Likelihood  int      // 1–4 after context
	Impact      int      // 1–4 after context
	Raised      []string // why severity went above the rule's base
	Element     string   // node, edge or boundary ID
	ElementType catalog.Target
	Namespace   string
	Evidence    []model.Evidence
	// MissingControl is the control whose absence the rule found.
	MissingControl string
	// Texts are the title, description, mitigation and references of the
	// rule, shared by all its findings: a large scan has tens of thousands
	// of findings of a hundred rules, and a copy of the texts' headers was
	// half of each. Nil reads as no text.
	Texts *RuleText
	// Triage is the decision in force, filled in when findings are read
	// back (ApplyTriage); it is never part of the stored scan.
	Triage *Triage
}

// Title is the rule's title.
func (f Finding) Title() string { return f.text().Title }

// Description says what the threat is.
func (f Finding) Description() string { return f.text().Description }

// Mitigation says what to do about it.
func (f Finding) Mitigation() string { return f.text().Mitigation }

// References are the public catalogues the rule maps to.
func (f Finding) References() catalog.References { return f.text().References }

func (f Finding) text() RuleText {
	if f.Texts == nil {
		return RuleText{}
	}
	return *f.Texts
}

// findingJSON is a Finding as JSON shows it, its rule's texts in line.
type findingJSON struct {
	ID             string             `json:"id"`
	RuleID         string             `json:"rule"`
	Title          string             `json:"title,omitempty"`
	Stride         catalog.Stride     `json:"stride"`
	Severity       Severity           `json:"severity"`
	Likelihood     int                `json:"likelihood"`
	Impact         int                `json:"impact"`
	Raised         []string           `json:"raised,omitempty"`
	Element        string             `json:"element"`
	ElementType    catalog.Target     `json:"elementType"`
	Namespace      string             `json:"namespace,omitempty"`
	Evidence       []model.Evidence   `json:"evidence"`
	MissingControl string             `json:"missingControl"`
	Description    string             `json:"description,omitempty"`
	Mitigation     string             `json:"mitigation,omitempty"`
	References     catalog.References `json:"references,omitzero"`
	Triage         *Triage            `json:"triage,omitempty"`
}

// MarshalJSON writes the finding with its rule's texts.
func (f Finding) MarshalJSON() ([]byte, error) {
	t := f.text()
	return json.Marshal(findingJSON{
		ID: f.ID, RuleID: f.RuleID, Title: t.Title, Stride: f.Stride, Severity: f.Severity,
		Likelihood: f.Likelihood, Impact: f.Impact, Raised: f.Raised, Element: f.Element, ElementType: f.ElementType,
		Namespace: f.Namespace, Evidence: f.Evidence, MissingControl: f.MissingControl,
		Description: t.Description, Mitigation: t.Mitigation, References: t.References, Triage: f.Triage,
	})
}

// UnmarshalJSON reads what MarshalJSON writes; the texts are the
// finding's own.
func (f *Finding) UnmarshalJSON(data []byte) error {
	var j findingJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*f = Finding{
		ID: j.ID, RuleID: j.RuleID, Stride: j.Stride, Severity: j.Severity,
		Likelihood: j.Likelihood, Impact: j.Impact, Raised: j.Raised, Element: j.Element, ElementType: j.ElementType,
		Namespace: j.Namespace, Evidence: j.Evidence, MissingControl: j.MissingControl, Triage: j.Triage,
		Texts: &RuleText{Title: j.Title, Description: j.Description, Mitigation: j.Mitigation, References: j.References},
	}
	return nil
}
