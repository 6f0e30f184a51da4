package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Decision is one triage decision on a finding, or one answer to a review
// question: the store keeps every one, and the latest is in force.
type Decision struct {
	Subject string    // the finding ID, or the question ID
	Status  string    // triage status, or the answer
	Reason  string    // why; for an answer, a note
	Who     string    //
	At      time.Time // UTC
}

// decisionTable names the two histories that share the Decision shape.
type decisionTable struct{ table, subject, status, reason string }

var (
	triageTable  = decisionTable{"triage", "finding_id", "status", "reason"}
	answersTable = decisionTable{"answers", "question_id", "answer", "note"}
)

// AddTriage records a triage decision on a finding.
func (s *Store) AddTriage(ctx context.Context, d Decision) error {
	return s.addDecision(ctx, triageTable, d)
}

// Triage returns the decision in force for every triaged finding.
func (s *Store) Triage(ctx context.Context) (map[string]Decision, error) {
	return s.current(ctx, triageTable)
}

// TriageHistory returns every decision made on one finding, oldest first.
func (s *Store) TriageHistory(ctx context.Context, findingID string) ([]Decision, error) {
	return s.history(ctx, triageTable, findingID)
}

// AddAnswer records an answer to a review question.
func (s *Store) AddAnswer(ctx context.Context, d Decision) error {
	return s.addDecision(ctx, answersTable, d)
}

// Answers returns the answer in force for every answered question.
func (s *Store) Answers(ctx context.Context) (map[string]Decision, error) {
	return s.current(ctx, answersTable)
}

// AnswerHistory returns every answer given to one question, oldest first.
func (s *Store) AnswerHistory(ctx context.Context, questionID string) ([]Decision, error) {
	return s.history(ctx, answersTable, questionID)
}

func (s *Store) addDecision(ctx context.Context, t decisionTable, d Decision) error {
	if d.At.IsZero() {
		d.At = time.Now()
	}
	w, err := s.writer(ctx)
	if err != nil {
		return err
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return s.saveErr(err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO `+t.table+` (`+t.subject+`, `+t.status+`, `+t.reason+`, who, at) VALUES (?, ?, ?, ?, ?)`,
		d.Subject, d.Status, d.Reason, d.Who, formatTime(d.At))
	if err != nil {
		return fmt.Errorf("record %s for %s in %s: %w", t.table, d.Subject, s.path, err)
	}
	return tx.Commit()
}

func (s *Store) current(ctx context.Context, t decisionTable) (map[string]Decision, error) {
	out := map[string]Decision{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+t.subject+`, `+t.status+`, `+t.reason+`, who, at FROM `+t.table+` ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDecision(rows)
			if err != nil {
				return err
			}
			out[d.Subject] = d // later rows win
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.readErr("read "+t.table, err)
	}
	return out, nil
}

func (s *Store) history(ctx context.Context, t decisionTable, subject string) ([]Decision, error) {
	out := []Decision{}
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+t.subject+`, `+t.status+`, `+t.reason+`, who, at FROM `+t.table+` WHERE `+t.subject+` = ? ORDER BY seq`, subject)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDecision(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.readErr("read "+t.table+" history", err)
	}
	return out, nil
}

func scanDecision(rows *sql.Rows) (Decision, error) {
	var d Decision
	var at string
	if err := rows.Scan(&d.Subject, &d.Status, &d.Reason, &d.Who, &at); err != nil {
		return d, err
	}
	t, err := parseTime(at)
	if err != nil {
		return d, fmt.Errorf("%s: time %q: %w", d.Subject, at, err)
	}
	d.At = t
	return d, nil
}
