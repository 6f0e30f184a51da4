package common

import (
	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// The TUI loads a scan in steps, each a command whose message carries what
// it read, so the first frame never waits for the slowest query:
//
//	ScanLoadedMsg      the scan's header, counts, triage, answers and coverage gaps (a few ms)
//	FindingsLoadedMsg  the findings, indexed and sorted (Overview and Threats)
//	GraphLoadedMsg     the graph, indexed for the Map
//	DriftLoadedMsg     what changed since the previous scan (Overview, Drift)
//
// Every message goes to every page; keys and the mouse go to the page on
// screen only.

// ScanLoadedMsg carries a scan's description and the decisions in force.
type ScanLoadedMsg struct {
	Scan     store.ScanInfo
	Previous *store.ScanInfo // the scan before it, if any
	Triage   map[string]store.Decision
	Answers  map[string]store.Decision
	// Gaps are what the scan could not read; nil when it read everything.
	Gaps []discover.Gap
}

// NoScansMsg says the store holds no scan yet.
type NoScansMsg struct{ DB string }

// FindingsLoadedMsg carries a scan's findings.
type FindingsLoadedMsg struct {
	ScanID   int64
	Findings *Findings
}

// SearchIndexedMsg carries the search index of a Findings, built in the
// background so the first keystroke of a search does not build it.
type SearchIndexedMsg struct {
	Findings *Findings
	Index    []string
}

// GraphLoadedMsg carries a scan's graph.
type GraphLoadedMsg struct {
	ScanID int64
	Graph  *GraphIndex
}

// DriftLoadedMsg carries what changed from one scan to another: the
// previous scan and this one at start-up, any two the Drift page picks.
// Pages keep the message for the pair they show and drop the others.
type DriftLoadedMsg struct {
	From, To store.ScanInfo
	Drift    threats.Drift
	Err      error // the comparison failed: the page that asked shows why
}

// ScansListedMsg carries every scan in the store, newest first, for the
// Drift page's scan picker.
type ScansListedMsg struct {
	Scans []store.ScanInfo
	Err   error
}

// ShowOnMapMsg asks the app to open the Map on an element, and on one of
// its flows when Flow is set.
type ShowOnMapMsg struct {
	Element, Flow string
}

// TriageSavedMsg says a triage decision was written to the store.
type TriageSavedMsg struct{ Decision store.Decision }

// TriageHistoryMsg carries every decision made on one finding.
type TriageHistoryMsg struct {
	FindingID string
	History   []store.Decision
}

// AnswerSavedMsg says an answer to a review question was written.
type AnswerSavedMsg struct{ Decision store.Decision }

// ErrorMsg reports a failed command; the status bar shows it.
type ErrorMsg struct{ Err error }

// StatusMsg puts a line of text in the status bar.
type StatusMsg struct{ Text string }
