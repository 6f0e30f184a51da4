package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/stridemap/stridemap/model"
)

// Delta is what two scans a and b do not share, for a comparison that
// needs no more: a row both hold is byte for byte the same element in
// both, so it cannot have changed. Comparing scans of one target this way
// reads a few rows instead of every one.
type Delta struct {
	// OnlyA and OnlyB hold the nodes, edges and boundaries of each scan
	// that the other does not hold, and the controls of each element
	// whose controls are not all the same in the other (never nil
	// slices).
	OnlyA, OnlyB *model.Graph
	// FlowsA and FlowsB are the ends of every flow of each scan, shared
	// or not: what reachability along flows needs, without decoding them.
	FlowsA, FlowsB []FlowEnds
	// FindingsA and FindingsB are the finding records of each element
	// whose findings are not all the same in the other scan, in ID order;
	// SharedFindings counts the findings of the others.
	FindingsA, FindingsB []Finding
	SharedFindings       int
}

// FlowEnds are the two ends of a flow, by element ID.
type FlowEnds struct{ From, To string }

// Delta reads what scans a and b do not share.
func (s *Store) Delta(ctx context.Context, a, b int64) (Delta, error) {
	d := Delta{OnlyA: emptyDeltaGraph(), OnlyB: emptyDeltaGraph()}
	err := s.read(ctx, func(tx *sql.Tx) error {
		for _, id := range []int64{a, b} {
			if _, err := s.scanRow(ctx, tx, id); err != nil {
				return err
			}
		}
		for _, side := range []struct {
			scan, other int64
			graph       *model.Graph
			flows       *[]FlowEnds
			findings    *[]Finding
		}{{a, b, d.OnlyA, &d.FlowsA, &d.FindingsA}, {b, a, d.OnlyB, &d.FlowsB, &d.FindingsB}} {
			args := []any{side.scan, side.other}
			var controls []controlGroup
			for _, err := range []error{
				readOnly(ctx, tx, "nodes", args, &side.graph.Nodes),
				readOnly(ctx, tx, "edges", args, &side.graph.Edges),
				readOnly(ctx, tx, "boundaries", args, &side.graph.Boundaries),
				readOnly(ctx, tx, "controls", args, &controls),
				eachFindingGroup(ctx, tx, findingsOnly, args, func(content int64, g *findingGroup) error {
					*side.findings = appendFindings(*side.findings, content, g)
					return nil
				}),
				readFlowEnds(ctx, tx, side.scan, side.flows),
			} {
				if err != nil {
					return err
				}
			}
			side.graph.Controls = appendControls(side.graph.Controls, controls)
			sortFindings(*side.findings)
		}
		return tx.QueryRowContext(ctx, `SELECT coalesce(sum(json_array_length(c.data, '$.findings')), 0)
			FROM findings m JOIN findings_content c ON c.content_id = m.content
			WHERE m.scan_id = ? AND m.content IN (SELECT content FROM findings WHERE scan_id = ?)`,
			a, b).Scan(&d.SharedFindings)
	})
	if err != nil {
		return Delta{}, s.readErr(fmt.Sprintf("read what scans %d and %d do not share", a, b), err)
	}
	return d, nil
}

func emptyDeltaGraph() *model.Graph {
	return &model.Graph{Nodes: []model.Node{}, Edges: []model.Edge{}, Boundaries: []model.Boundary{}, Controls: []model.Control{}, Dangling: []model.DanglingRef{}}
}

// Nodes reads the nodes of scan with the given IDs, in the scan's order;
// IDs it does not hold are left out.
func (s *Store) Nodes(ctx context.Context, scan int64, ids []string) ([]model.Node, error) {
	out := []model.Node{}
	if len(ids) == 0 {
		return out, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	err = s.read(ctx, func(tx *sql.Tx) error {
		if _, err := s.scanRow(ctx, tx, scan); err != nil {
			return err
		}
		return eachContent(ctx, tx, `SELECT m.content, c.data FROM nodes m JOIN nodes_content c ON c.content_id = m.content
			WHERE m.scan_id = ? AND c.id IN (SELECT value FROM json_each(?)) ORDER BY m.ord`, []any{scan, string(list)},
			func(content int64, data []byte) error {
				var n model.Node
				if err := json.Unmarshal(data, &n); err != nil {
					return fmt.Errorf("nodes row %d: %w", content, err)
				}
				out = append(out, n)
				return nil
			})
	})
	if err != nil {
		return nil, s.readErr(fmt.Sprintf("read %d nodes of scan %d", len(ids), scan), err)
	}
	return out, nil
}

// readOnly appends the rows of one element table that the first scan of
// args holds and the second does not, decoded, to *out.
func readOnly[T any](ctx context.Context, tx *sql.Tx, table string, args []any, out *[]T) error {
	query := `SELECT m.content, c.data FROM ` + table + ` m JOIN ` + table + `_content c ON c.content_id = m.content
		WHERE m.scan_id = ? AND m.content NOT IN (SELECT content FROM ` + table + ` WHERE scan_id = ?) ORDER BY m.ord`
	return eachContent(ctx, tx, query, args, func(content int64, data []byte) error {
		*out = append(*out, *new(T))
		if err := json.Unmarshal(data, &(*out)[len(*out)-1]); err != nil {
			return fmt.Errorf("%s row %d: %w", table, content, err)
		}
		return nil
	})
}

// findingsOnly reads the rows of findings of one scan that another does
// not hold (parameters: the scan, the other). A row holds all of one
// element's findings, so where one of them changed, the others are read
// too: they compare equal.
var findingsOnly = `SELECT m.content, c.data FROM findings m JOIN findings_content c ON c.content_id = m.content
	WHERE m.scan_id = ? AND m.content NOT IN (SELECT content FROM findings WHERE scan_id = ?) ORDER BY m.ord`

func readFlowEnds(ctx context.Context, tx *sql.Tx, scan int64, out *[]FlowEnds) error {
	rows, err := tx.QueryContext(ctx, `SELECT c.from_id, c.to_id FROM edges m JOIN edges_content c ON c.content_id = m.content WHERE m.scan_id = ? ORDER BY m.ord`, scan)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var e FlowEnds
		if err := rows.Scan(&e.From, &e.To); err != nil {
			return err
		}
		*out = append(*out, e)
	}
	return rows.Err()
}
