package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/stridemap/stridemap/export"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

// scanNumber is how a scan is named where a file could be named too.
var scanNumber = regexp.MustCompile(`^[0-9]+$`)

// scanByName is how else a stored scan is named where a file could be
// named too: the latest, or the last scan of a day.
var scanByName = regexp.MustCompile(`^(latest|[0-9]{4}-[0-9]{2}-[0-9]{2})$`)

// loadBaseline reads what --baseline names: a scan of the store by its
// number, latest, or a date (the last scan started that day), or a JSON
// report file. A number is a scan; a file named like one is written ./3.
func (a *app) loadBaseline(ctx context.Context, ref string) (*threats.Baseline, error) {
	if !scanNumber.MatchString(ref) && !scanByName.MatchString(ref) {
		f, err := os.Open(ref)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, &exitError{code: exitUsage, message: fmt.Sprintf("--baseline %s: no such file; name a scan (its number, latest, or a date YYYY-MM-DD: stridemap scans lists them) or a report written by stridemap report --format json -o FILE", safetext.Text(ref))}
			}
			return nil, fmt.Errorf("--baseline: %w", err)
		}
		defer f.Close()
		b, err := export.ReadBaseline(f, ref)
		if err != nil {
			return nil, &exitError{code: exitUsage, message: safetext.Text(err.Error())}
		}
		return b, nil
	}
	s, err := a.readStore(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	scans, err := s.Scans(ctx)
	if err != nil {
		return nil, err
	}
	if len(scans) == 0 {
		return nil, &exitError{code: exitUsage, message: fmt.Sprintf("--baseline %s: the store has no scans yet; scan once without --baseline, or name a report file", safetext.Text(ref))}
	}
	picked, err := store.Pick(scans, ref, nil)
	if err != nil {
		return nil, &exitError{code: exitUsage, message: fmt.Sprintf("--baseline %s: %s (stridemap scans lists them)", safetext.Text(ref), safetext.Text(err.Error()))}
	}
	id := picked.ID
	g, err := s.Graph(ctx, id)
	if err != nil {
		return nil, err
	}
	findings, err := threats.Load(ctx, s, id)
	if err != nil {
		return nil, err
	}
	return threats.NewBaseline(fmt.Sprintf("scan #%d", id), g, findings), nil
}

// pinBaseline keeps the stored scan --baseline named from prune, as
// "scans keep" does: a gate judges pull requests against it for as long as
// it is named, and a prune must not take it away under the pipeline. A
// baseline file, or a scan already pinned, needs nothing.
func (a *app) pinBaseline(ctx context.Context, ref string) error {
	if !scanNumber.MatchString(ref) {
		return nil
	}
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return nil // loadBaseline refused it already
	}
	s, err := a.readStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	info, err := s.Scan(ctx, id)
	if err != nil || info.Kept {
		return err
	}
	if err := s.SetKept(ctx, id, true); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "scan %d is kept as a baseline; `stridemap scans unkeep %d` lets prune remove it\n", id, id)
	return nil
}

// writeBaselineSummary says what a scan adds to and removes from its
// baseline: the new findings, those fixed, and new ways in and plaintext
// flows.
func writeBaselineSummary(w io.Writer, b *threats.Baseline, since threats.SinceBaseline) {
	fmt.Fprintf(w, "\nSince the baseline (%s): %d new %s, %d fixed, %d unchanged", safetext.Text(b.Name), len(since.New), map[bool]string{true: "finding", false: "findings"}[len(since.New) == 1], len(since.Fixed), len(since.Unchanged))
	if n := len(since.NoLongerAssessed); n > 0 {
		fmt.Fprintf(w, ", %d no longer assessed (coverage gaps)", n)
	}
	fmt.Fprintln(w)
	for _, group := range []struct {
		label    string
		findings []threats.Finding
	}{{"new", since.New}, {"fixed", since.Fixed}, {"not assessed", since.NoLongerAssessed}} {
		for _, f := range group.findings {
			fmt.Fprintf(w, "  %-12s %-8s %s  %s\n", group.label, f.Severity, f.Stride.Letter(), safetext.Text(f.ID))
		}
	}
	for _, e := range since.NewEntryPoints {
		fmt.Fprintf(w, "  new entry point from the internet: %s\n", safetext.Text(edgeLine(e)))
	}
	for _, e := range since.NewPlaintext {
		fmt.Fprintf(w, "  new plaintext flow: %s\n", safetext.Text(edgeLine(e)))
	}
}

func edgeLine(e model.Edge) string {
	return fmt.Sprintf("%s → %s :%d %s", e.From, e.To, e.Port, e.Protocol)
}

// gateOnBaseline is the exit a pull request's scan gets: findings, entry
// points or plaintext flows its baseline did not have, as asked for.
func gateOnBaseline(b *threats.Baseline, since threats.SinceBaseline, failOnNew string, failOnExposure bool) error {
	var reasons []string
	if failOnNew != "" {
		min, _ := threats.ParseSeverity(failOnNew)
		if found := since.NewOpenAtOrAbove(min); len(found) > 0 {
			ids := make([]string, len(found))
			for i, f := range found {
				ids[i] = safetext.Text(f.ID)
			}
			reasons = append(reasons, fmt.Sprintf("%d new open finding(s) at or above %s (--fail-on-new): %s", len(found), min, joinShort(ids)))
		}
	}
	if failOnExposure {
		if n := len(since.NewEntryPoints); n > 0 {
			reasons = append(reasons, fmt.Sprintf("%d new entry point(s) from the internet (--fail-on-new-exposure)", n))
		}
		if n := len(since.NewPlaintext); n > 0 {
			reasons = append(reasons, fmt.Sprintf("%d new plaintext flow(s) (--fail-on-new-exposure)", n))
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	msg := reasons[0]
	for _, r := range reasons[1:] {
		msg += "; " + r
	}
	return &exitError{code: exitFindings, message: msg + " since " + safetext.Text(b.Name)}
}

// joinShort joins a few IDs, and counts the rest.
func joinShort(ids []string) string {
	const shown = 5
	if len(ids) <= shown {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:shown], ", "), len(ids)-shown)
}
