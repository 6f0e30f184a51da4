package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/stridemap/stridemap/discover"
)

// NotAssessed is a rule whose condition held on an element but which was
// not raised as a finding, because a kind its verdict depends on could not
// be read there: the absence of a control it would report proves nothing.
// It is kept apart from findings and never counts towards severities.
type NotAssessed struct {
	RuleID    string `json:"ruleId"`
	Title     string `json:"title"`
	Element   string `json:"element"`
	Namespace string `json:"namespace,omitempty"`
	// Gap is the first gap, in the graph's order, that covers the element.
	Gap discover.Gap `json:"gap"`
}

// ID is "rule@element", the ID the finding would have had.
func (n NotAssessed) ID() string { return n.RuleID + "@" + n.Element }

// Reason says why in one line: "not assessed:
// NetworkPolicy.networking.k8s.io could not be read (forbidden)".
func (n NotAssessed) Reason() string {
	return "not assessed: " + n.Gap.What() + " could not be read (" + n.Gap.Reason + ")"
}

// NotAssessed lists the rules scan id left unassessed, in the order they
// were saved. Never nil; empty for a scan without gaps.
func (s *Store) NotAssessed(ctx context.Context, id int64) ([]NotAssessed, error) {
	return scanRows[NotAssessed](ctx, s, id, "not_assessed", "the rules not assessed")
}

// Gaps lists the coverage gaps of scan id without loading its graph, for
// views that show only them. Never nil.
func (s *Store) Gaps(ctx context.Context, id int64) ([]discover.Gap, error) {
	return scanRows[discover.Gap](ctx, s, id, "gaps", "the coverage gaps")
}

// scanRows reads the rows of one of scan id's tables, in the order they
// were saved; what names them in an error. Never nil.
func scanRows[T any](ctx context.Context, s *Store, id int64, table, what string) ([]T, error) {
	out := []T{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if _, err := s.scanRow(ctx, tx, id); err != nil {
			return err
		}
		return readAll(ctx, tx, table, id, &out)
	})
	if err != nil {
		return nil, s.readErr(fmt.Sprintf("read %s of scan %d", what, id), err)
	}
	return out, nil
}
