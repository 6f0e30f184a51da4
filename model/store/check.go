package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/model"
)

// maxCheckMessages bounds what SQLite's integrity check reports: a badly
// damaged file yields one message per broken page.
const maxCheckMessages = 100

// CheckResult is what Check found.
type CheckResult struct {
	// Integrity holds SQLite's integrity check messages; empty when the
	// file is sound.
	Integrity []string
	// Scans are the IDs the scans table lists, Unreadable those whose
	// graph, findings or record could not be read back, with why.
	Scans      []int64
	Unreadable map[int64]error
}

// OK reports whether the store is sound and every scan reads back.
func (c CheckResult) OK() bool { return len(c.Integrity) == 0 && len(c.Unreadable) == 0 }

// Check runs SQLite's full integrity check and reads every scan back, for
// "stridemap store check". It only reads. An error means the check itself
// could not run (the scans table cannot be listed, say).
func (s *Store) Check(ctx context.Context) (CheckResult, error) {
	res := CheckResult{Unreadable: map[int64]error{}}
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, fmt.Sprintf("PRAGMA integrity_check(%d)", maxCheckMessages))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var msg string
			if err := rows.Scan(&msg); err != nil {
				return err
			}
			if msg != "ok" {
				res.Integrity = append(res.Integrity, msg)
			}
		}
		return rows.Err()
	})
	if err != nil && !damaged(err) {
		return res, fmt.Errorf("check store %s: %w", s.path, err)
	}
	if err != nil {
		res.Integrity = append(res.Integrity, err.Error())
	}
	res.Scans, err = s.scanIDs(ctx)
	if err != nil {
		return res, fmt.Errorf("check store %s: list its scans: %w", s.path, err)
	}
	for _, id := range res.Scans {
		if _, err := s.record(ctx, id); err != nil {
			res.Unreadable[id] = err
		}
	}
	return res, nil
}

// scanIDs lists the IDs of the scans table, in order.
func (s *Store) scanIDs(ctx context.Context) ([]int64, error) {
	return s.ids(ctx, `SELECT id FROM scans ORDER BY id`)
}

// savedScan is a scan as read back, ready to be saved elsewhere.
type savedScan struct {
	rec  ScanRecord
	kept bool
	lost string // what salvageScan could not read, "" for nothing
}

// record reads back everything SaveScan wrote for scan id.
func (s *Store) record(ctx context.Context, id int64) (savedScan, error) {
	info, err := s.Scan(ctx, id)
	if err != nil {
		return savedScan{}, err
	}
	out := savedScan{kept: info.Kept, rec: ScanRecord{
		StartedAt: info.StartedAt, FinishedAt: info.FinishedAt, ToolVersion: info.ToolVersion,
		Sources: info.Sources, Target: info.Target, Catalog: info.Catalog,
	}}
	r := &out.rec
	if r.Objects, err = s.Objects(ctx, id); err != nil {
		return out, err
	}
	if r.Problems, err = s.Problems(ctx, id); err != nil {
		return out, err
	}
	if r.Graph, err = s.Graph(ctx, id); err != nil {
		return out, err
	}
	if r.Findings, err = s.Findings(ctx, id); err != nil {
		return out, err
	}
	if r.Rules, err = s.Rules(ctx, id); err != nil {
		return out, err
	}
	if r.NotAssessed, err = s.NotAssessed(ctx, id); err != nil {
		return out, err
	}
	c, ok, err := s.Content(ctx, id)
	if err != nil {
		return out, err
	}
	if ok {
		r.ContentHash = c.Hash
	}
	return out, nil
}

// RecoverResult says what Recover copied and what it could not.
type RecoverResult struct {
	Copied []int64
	// Incomplete are the copied scans some of whose rows could not be
	// read: each holds a problem saying what was lost, so it shows as
	// partial.
	Incomplete []int64
	Lost       map[int64]error // scans that could not be read at all, with why
	// Decisions counts the triage decisions and answers copied, and
	// Failures the recorded failed re-scans; DecisionsLost and
	// FailuresLost are those that could not be read.
	Decisions, DecisionsLost int
	Failures, FailuresLost   int
}

// Recover copies every scan of the store that can still be read, with its
// ID, its pin and its content hash, and the triage decisions, answers and
// failed re-scans, into a new store at dst, for "stridemap store recover".
// It reads this store only and refuses a dst that exists, so nothing is
// overwritten. What could not be read is listed in the result.
func (s *Store) Recover(ctx context.Context, dst string) (RecoverResult, error) {
	res := RecoverResult{Lost: map[int64]error{}}
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("recover store %s into %s: the file exists; name a new file with -o", s.path, dst)
	}
	if abs, err := filepath.Abs(dst); err == nil && abs == s.abs {
		return res, fmt.Errorf("recover store %s: -o names the store itself; name a new file", s.path)
	}
	ids, err := s.scanIDs(ctx)
	if err != nil {
		return res, fmt.Errorf("recover store %s: list its scans: %w", s.path, err)
	}
	out, err := Open(ctx, dst)
	if err != nil {
		return res, err
	}
	defer out.Close()
	for _, id := range ids {
		saved, err := s.record(ctx, id)
		if err != nil {
			saved, err = s.salvageScan(ctx, id)
		}
		if err != nil {
			res.Lost[id] = err
			continue
		}
		if saved.lost != "" {
			res.Incomplete = append(res.Incomplete, id)
		}
		if _, err := out.saveScan(ctx, saved.rec, id); err != nil {
			return res, fmt.Errorf("recover store %s: write scan %d to %s: %w", s.path, id, dst, err)
		}
		if saved.kept {
			if err := out.SetKept(ctx, id, true); err != nil {
				return res, err
			}
		}
		res.Copied = append(res.Copied, id)
	}
	for _, t := range []decisionTable{triageTable, answersTable} {
		if err := s.copyDecisions(ctx, out, t, &res); err != nil {
			return res, err
		}
	}
	if err := s.copyFailures(ctx, out, &res); err != nil {
		return res, err
	}
	return res, out.Close()
}

// copyDecisions copies a decision history row by row, so one damaged row
// loses itself only.
func (s *Store) copyDecisions(ctx context.Context, out *Store, t decisionTable, res *RecoverResult) error {
	rowIDs, err := s.rowIDs(ctx, t.table)
	if err != nil {
		res.DecisionsLost++
		return nil
	}
	for _, rowID := range rowIDs {
		var d Decision
		var at string
		err := s.read(ctx, func(tx *sql.Tx) error {
			return tx.QueryRowContext(ctx, `SELECT `+t.subject+`, `+t.status+`, `+t.reason+`, who, at FROM `+t.table+` WHERE rowid = ?`, rowID).
				Scan(&d.Subject, &d.Status, &d.Reason, &d.Who, &at)
		})
		if err == nil {
			d.At, err = parseTime(at)
		}
		if err != nil {
			res.DecisionsLost++
			continue
		}
		if err := out.addDecision(ctx, t, d); err != nil {
			return err
		}
		res.Decisions++
	}
	return nil
}

// copyFailures copies the failed re-scans, oldest first.
func (s *Store) copyFailures(ctx context.Context, out *Store, res *RecoverResult) error {
	failures, err := s.Failures(ctx, -1)
	if err != nil {
		res.FailuresLost++
		return nil
	}
	for i := len(failures) - 1; i >= 0; i-- {
		if err := out.RecordFailure(ctx, failures[i]); err != nil {
			return err
		}
		res.Failures++
	}
	return nil
}

// rowIDs lists a table's row IDs in order.
func (s *Store) rowIDs(ctx context.Context, table string) ([]int64, error) {
	return s.ids(ctx, `SELECT rowid FROM `+table+` ORDER BY rowid`)
}

// ids runs a query of one integer column and lists what it returns, as
// far as it could read: on an error, the IDs before it.
func (s *Store) ids(ctx context.Context, query string, args ...any) ([]int64, error) {
	var ids []int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, err
}

// salvageScan reads what it can of a scan whose whole read failed: the
// scans row must read, then every element is read by itself, so damage
// loses the rows it touched only. What was lost is added to the scan as
// an error problem, which marks it partial.
func (s *Store) salvageScan(ctx context.Context, id int64) (savedScan, error) {
	info, err := s.Scan(ctx, id)
	if err != nil {
		return savedScan{}, err
	}
	out := savedScan{kept: info.Kept, rec: ScanRecord{
		StartedAt: info.StartedAt, FinishedAt: info.FinishedAt, ToolVersion: info.ToolVersion,
		Sources: info.Sources, Target: info.Target, Catalog: info.Catalog,
	}}
	r := &out.rec
	g := &model.Graph{}
	r.Graph = g
	var lost []string
	tally := func(table string, n int, brokeOff bool) {
		switch {
		case brokeOff:
			lost = append(lost, fmt.Sprintf("%s (%d, and the rest of the list)", table, n))
		case n > 0:
			lost = append(lost, fmt.Sprintf("%s (%d)", table, n))
		}
	}
	tally(salvageJSON(ctx, s, "problems", id, &r.Problems))
	tally(salvageJSON(ctx, s, "nodes", id, &g.Nodes))
	tally(salvageJSON(ctx, s, "edges", id, &g.Edges))
	tally(salvageJSON(ctx, s, "boundaries", id, &g.Boundaries))
	var controls []controlGroup
	lostControls, n, brokeOff := salvageJSON(ctx, s, "controls", id, &controls)
	tally(lostControls+" of elements", n, brokeOff)
	g.Controls = appendControls(g.Controls, controls)
	tally(salvageJSON(ctx, s, "dangling", id, &g.Dangling))
	tally(salvageJSON(ctx, s, "gaps", id, &g.Gaps))
	tally(salvageJSON(ctx, s, "not_assessed", id, &r.NotAssessed))
	var objects []objectGroup
	lostObjects, n, brokeOff := salvageJSON(ctx, s, "objects", id, &objects)
	tally(lostObjects+" of files", n, brokeOff)
	r.Objects = appendObjects(r.Objects, objects)
	var findings []findingGroup
	lostFindings, n, brokeOff := salvageJSON(ctx, s, "findings", id, &findings)
	tally(lostFindings+" of elements", n, brokeOff)
	for i := range findings {
		r.Findings = appendFindings(r.Findings, 0, &findings[i])
	}
	sortFindings(r.Findings)
	tally(salvage(ctx, s, "scan_rules", id, "c.rule_id, c.data", func(row *sql.Row) error {
		var rule Rule
		if err := row.Scan(&rule.ID, &rule.Data); err != nil {
			return err
		}
		r.Rules = append(r.Rules, rule)
		return nil
	}))
	if c, ok, err := s.Content(ctx, id); err == nil && ok {
		r.ContentHash = c.Hash
	}
	if len(lost) > 0 {
		out.lost = strings.Join(lost, ", ")
		r.Problems = append(r.Problems, discover.Problem{Severity: discover.SeverityError, Code: "store-recovered",
			Message: "recovered from a damaged store; rows that could not be read: " + out.lost + "; the scan is incomplete"})
	}
	return out, nil
}

// salvage reads one scan's rows of table one by one: it lists their
// content IDs as far as the table's link rows can be read (brokeOff when
// the list itself broke off), then reads each row by itself with cols
// (over the content table as c) and hands it to add. lost counts the rows
// listed that could not be read.
func salvage(ctx context.Context, s *Store, table string, id int64, cols string, add func(*sql.Row) error) (string, int, bool) {
	contents, listErr := s.ids(ctx, `SELECT content FROM `+table+` WHERE scan_id = ? ORDER BY ord`, id)
	lost := 0
	for _, c := range contents {
		err := s.read(ctx, func(tx *sql.Tx) error {
			return add(tx.QueryRowContext(ctx, `SELECT `+cols+` FROM `+table+`_content c WHERE c.content_id = ?`, c))
		})
		if err != nil {
			lost++
		}
	}
	return table, lost, listErr != nil
}

// salvageJSON is salvage for the tables whose rows are one JSON document.
func salvageJSON[T any](ctx context.Context, s *Store, table string, id int64, out *[]T) (string, int, bool) {
	return salvage(ctx, s, table, id, "c.data", func(row *sql.Row) error {
		var data []byte
		if err := row.Scan(&data); err != nil {
			return err
		}
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*out = append(*out, v)
		return nil
	})
}
