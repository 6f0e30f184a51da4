package threats

import (
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
	ID             string             `json:"id"` // RULE@ELEMENT
	RuleID         string             `json:"rule"`
	Title          string             `json:"title,omitempty"`
	Stride         catalog.Stride     `json:"stride"`
	Severity       Severity           `json:"severity"`
	Likelihood     int                `json:"likelihood"`       // 1–4 after context
	Impact         int                `json:"impact"`           // 1–4 after context
	Raised         []string           `json:"raised,omitempty"` // why severity went above the rule's base
	Element        string             `json:"element"`          // node, edge or boundary ID
	ElementType    catalog.Target     `json:"elementType"`
	Namespace      string             `json:"namespace,omitempty"`
	Evidence       []model.Evidence   `json:"evidence"`
	MissingControl string             `json:"missingControl"`
	Description    string             `json:"description,omitempty"`
	Mitigation     string             `json:"mitigation,omitempty"`
	References     catalog.References `json:"references,omitzero"`
	// Triage is the decision in force, filled in when findings are read
	// back (ApplyTriage); it is never part of the stored scan.
	Triage *Triage `json:"triage,omitempty"`
}
