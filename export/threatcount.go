package export

import (
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/threats"
)

// SeverityCounts counts findings by severity.
type SeverityCounts struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
}

// Add counts one finding of severity s.
func (c *SeverityCounts) Add(s threats.Severity) {
	switch s {
	case threats.Critical:
		c.Critical++
	case threats.High:
		c.High++
	case threats.Medium:
		c.Medium++
	case threats.Low:
		c.Low++
	}
}

// Of returns the count for severity s.
func (c SeverityCounts) Of(s threats.Severity) int {
	switch s {
	case threats.Critical:
		return c.Critical
	case threats.High:
		return c.High
	case threats.Medium:
		return c.Medium
	case threats.Low:
		return c.Low
	}
	return 0
}

// Total is the number of findings counted.
func (c SeverityCounts) Total() int { return c.Critical + c.High + c.Medium + c.Low }

// Highest is the most severe level with a finding, or "" when there is none.
func (c SeverityCounts) Highest() threats.Severity {
	for i := len(threats.Severities) - 1; i >= 0; i-- {
		if c.Of(threats.Severities[i]) > 0 {
			return threats.Severities[i]
		}
	}
	return ""
}

// String lists the non-zero counts, most severe first: "1 critical, 2 high".
func (c SeverityCounts) String() string {
	var parts []string
	for i := len(threats.Severities) - 1; i >= 0; i-- {
		if n := c.Of(threats.Severities[i]); n > 0 {
			parts = append(parts, strconv.Itoa(n)+" "+string(threats.Severities[i]))
		}
	}
	return strings.Join(parts, ", ")
}

// ThreatCounts counts the open findings on each element (node, edge or
// boundary ID), by severity: what a diagram shows on each element.
// Triaged findings (accepted, mitigated, false positive) are not counted.
type ThreatCounts map[string]SeverityCounts

// CountOpenThreats counts the open findings of each element.
func CountOpenThreats(findings []threats.Finding) ThreatCounts {
	out := ThreatCounts{}
	for i := range findings {
		if !findings[i].IsOpen() {
			continue
		}
		c := out[findings[i].Element]
		c.Add(findings[i].Severity)
		out[findings[i].Element] = c
	}
	return out
}

// severityColours are used for threat counts and the severity matrix.
var severityColours = map[threats.Severity]string{
	threats.Critical: "#a50e0e",
	threats.High:     "#d93025",
	threats.Medium:   "#e37400",
	threats.Low:      "#1a73e8",
}
