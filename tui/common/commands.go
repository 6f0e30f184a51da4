package common

import (
	"context"
	"errors"
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// LoadScanCmd reads the header of scan id (the latest when id is 0), the
// scan before it and the decisions in force.
func LoadScanCmd(ctx context.Context, s *store.Store, id int64) tea.Cmd {
	return func() tea.Msg {
		if id == 0 {
			latest, err := s.LatestScanID(ctx)
			if errors.Is(err, store.ErrNoScans) {
				return NoScansMsg{DB: s.Path()}
			}
			if err != nil {
				return ErrorMsg{err}
			}
			id = latest
		}
		scans, err := s.Scans(ctx)
		if err != nil {
			return ErrorMsg{err}
		}
		msg := ScanLoadedMsg{}
		found := false
		for i := range scans { // newest first
			if scans[i].ID == id {
				msg.Scan, found = scans[i], true
				// The previous scan of the same target: another app's or
				// cluster's scan in the store is no baseline.
				if prev, ok := store.Previous(scans[i+1:], scans[i]); ok {
					msg.Previous = &prev
				}
				break
			}
		}
		if !found {
			// Scan explains which scans exist.
			if _, err := s.Scan(ctx, id); err != nil {
				return ErrorMsg{err}
			}
			return ErrorMsg{fmt.Errorf("scan %d not found", id)}
		}
		if msg.Triage, err = s.Triage(ctx); err != nil {
			return ErrorMsg{err}
		}
		if msg.Answers, err = s.Answers(ctx); err != nil {
			return ErrorMsg{err}
		}
		if msg.Scan.Counts.Gaps > 0 {
			if msg.Gaps, err = s.Gaps(ctx, id); err != nil {
				return ErrorMsg{err}
			}
		}
		return msg
	}
}

// LoadFindingsCmd reads and indexes the findings of scan id.
func LoadFindingsCmd(ctx context.Context, s *store.Store, id int64) tea.Cmd {
	return func() tea.Msg {
		f, err := loadFindings(ctx, s, id)
		if err != nil {
			return ErrorMsg{err}
		}
		return FindingsLoadedMsg{ScanID: id, Findings: f}
	}
}

// SearchIndexCmd builds the search index of f.
func SearchIndexCmd(f *Findings) tea.Cmd {
	return func() tea.Msg { return SearchIndexedMsg{Findings: f, Index: f.SearchIndex()} }
}

// LoadGraphCmd reads and indexes the graph of scan id.
func LoadGraphCmd(ctx context.Context, s *store.Store, id int64, findings *Findings) tea.Cmd {
	return func() tea.Msg {
		g, err := s.Graph(ctx, id)
		if err != nil {
			return ErrorMsg{err}
		}
		return GraphLoadedMsg{ScanID: id, Graph: NewGraphIndex(g, findings)}
	}
}

// LoadDriftCmd compares scan from with scan to as "stridemap diff" does
// (findings with their evidence and the triage in force, what coverage
// gaps left unassessed), so attack paths and triage carried are compared
// too.
func LoadDriftCmd(ctx context.Context, s *store.Store, from, to store.ScanInfo) tea.Cmd {
	return func() tea.Msg {
		msg := DriftLoadedMsg{From: from, To: to}
		var err error
		if msg.Drift, err = threats.CompareStored(ctx, s, from.ID, to.ID); err != nil {
			msg.Err = fmt.Errorf("reading scans %d and %d: %w", from.ID, to.ID, err)
		}
		return msg
	}
}

// ListScansCmd lists the store's scans for the Drift page's picker.
func ListScansCmd(ctx context.Context, s *store.Store) tea.Cmd {
	return func() tea.Msg {
		scans, err := s.Scans(ctx)
		return ScansListedMsg{Scans: scans, Err: err}
	}
}

// SaveTriageCmd records a triage decision.
func SaveTriageCmd(ctx context.Context, s *store.Store, d store.Decision) tea.Cmd {
	return func() tea.Msg {
		if err := s.AddTriage(ctx, d); err != nil {
			return ErrorMsg{err}
		}
		return TriageSavedMsg{Decision: d}
	}
}

// LoadTriageHistoryCmd reads every decision made on a finding.
func LoadTriageHistoryCmd(ctx context.Context, s *store.Store, findingID string) tea.Cmd {
	return func() tea.Msg {
		h, err := s.TriageHistory(ctx, findingID)
		if err != nil {
			return ErrorMsg{err}
		}
		return TriageHistoryMsg{FindingID: findingID, History: h}
	}
}

// SaveAnswerCmd records an answer to a review question.
func SaveAnswerCmd(ctx context.Context, s *store.Store, d store.Decision) tea.Cmd {
	return func() tea.Msg {
		if err := s.AddAnswer(ctx, d); err != nil {
			return ErrorMsg{err}
		}
		return AnswerSavedMsg{Decision: d}
	}
}

func loadFindings(ctx context.Context, s *store.Store, id int64) (*Findings, error) {
	records, err := s.Findings(ctx, id)
	if err != nil {
		return nil, err
	}
	rules, err := s.Rules(ctx, id)
	if err != nil {
		return nil, err
	}
	return NewFindings(records, rules)
}
