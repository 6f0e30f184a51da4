package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/catalog"

	"github.com/stridemap/stridemap/discover"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

type findingsOptions struct {
	strides    []string
	statuses   []string
	severity   string
	rule       string
	namespace  string
	format     string
	showDetail bool
	// notAssessed lists the checks coverage gaps left open instead.
	notAssessed bool
}

func (a *app) findingsCommand() *cobra.Command {
	var opts findingsOptions
	cmd := &cobra.Command{
		Use:   "findings [SCAN]",
		Short: "List the threats found in a scan",
		Long: `List the findings of a scan (the latest unless SCAN names one), most severe
first. Each finding has a stable ID, RULE@ELEMENT, that later scans keep, its
STRIDE category, severity, the element, and the missing control; --detail adds
the evidence (file:line), description, mitigation and references. The table
opens with the scan listed: its number, what it read and when.`,
		Example: `  stridemap findings
  stridemap findings --stride S --stride E --severity high
  stridemap findings --namespace shop --detail
  stridemap findings 3 --format json
  stridemap findings --not-assessed   # checks a live scan could not make: what it could not read`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runFindings(cmd.Context(), args, opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.strides, "stride", nil, "only this STRIDE category: a letter (S T R I D E) or a name (repeatable)")
	cmd.Flags().StringVar(&opts.severity, "severity", "", "only findings at or above this severity: low, medium, high, critical")
	cmd.Flags().StringVar(&opts.rule, "rule", "", "only findings of this rule")
	cmd.Flags().StringArrayVar(&opts.statuses, "status", nil, "only findings with this triage status: open, accepted, mitigated, false-positive (repeatable)")
	cmd.Flags().StringVarP(&opts.namespace, "namespace", "n", "", "only findings in this namespace")
	cmd.Flags().StringVar(&opts.format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVar(&opts.showDetail, "detail", false, "with the table, print evidence, description and mitigation under each finding")
	cmd.Flags().BoolVar(&opts.notAssessed, "not-assessed", false, "list instead the checks not assessed because a live scan could not read what they depend on (--rule and --namespace apply)")
	return cmd
}

func (a *app) runFindings(ctx context.Context, args []string, opts findingsOptions) error {
	var err error
	if opts.format, err = choice("--format", opts.format, "table", "json"); err != nil {
		return err
	}
	filter, err := newFindingFilter(opts)
	if err != nil {
		return err
	}
	s, err := a.readStore(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := scanIDArg(ctx, s, args)
	if err != nil {
		return err
	}
	if opts.notAssessed {
		return a.runNotAssessed(ctx, s, id, opts)
	}
	all, err := threats.Load(ctx, s, id)
	if err != nil {
		return err
	}
	var findings []threats.Finding
	for _, f := range all {
		if filter(f) {
			findings = append(findings, f)
		}
	}
	sortBySeverity(findings)
	if opts.format == "json" {
		if findings == nil {
			findings = []threats.Finding{}
		}
		return writeJSON(a.stdout, findings)
	}
	info, err := s.Scan(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %d of %d findings\n\n", scanHeadline(info), len(findings), len(all))
	if len(findings) == 0 {
		fmt.Fprintf(a.stdout, "No findings in scan #%d match.\n", id)
	} else if err := writeFindingsTable(a.stdout, findings, opts.showDetail); err != nil {
		return err
	}
	if n := info.Counts.NotAssessed; n > 0 {
		fmt.Fprintf(a.stdout, "\n%s not assessed: the scan could not read what they depend on (%s); stridemap findings %d --not-assessed lists them\n",
			plural(n, "check"), plural(info.Counts.Gaps, "coverage gap"), id)
	}
	return nil
}

// runNotAssessed lists the checks scan id left open, with why.
func (a *app) runNotAssessed(ctx context.Context, s *store.Store, id int64, opts findingsOptions) error {
	all, err := s.NotAssessed(ctx, id)
	if err != nil {
		return err
	}
	list := slices.DeleteFunc(slices.Clone(all), func(n store.NotAssessed) bool {
		return (opts.rule != "" && n.RuleID != opts.rule) || (opts.namespace != "" && n.Namespace != opts.namespace)
	})
	if opts.format == "json" {
		return writeJSON(a.stdout, list)
	}
	info, err := s.Scan(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: %d of %d checks not assessed\n\n", scanHeadline(info), len(list), len(all))
	if len(list) == 0 {
		fmt.Fprintf(a.stdout, "No check of scan #%d was left unassessed that matches.\n", id)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tELEMENT\tREASON")
	for _, n := range list {
		// The gap's kind and reason come from the API server: escaped.
		fmt.Fprintf(tw, "%s\t%s\t%s\n", safetext.Cell(n.RuleID), safetext.Cell(n.Element), safetext.Text(n.Reason()))
	}
	return tw.Flush()
}

// scanHeadline names a scan for people: its number, what it read and
// when, so a list is never taken for another scan's.
func scanHeadline(info store.ScanInfo) string {
	var paths []string
	for _, src := range info.Sources {
		p := src.Path
		if src.Kind == discover.SourceStdin {
			p = "stdin"
		}
		paths = append(paths, safetext.Text(p)) // paths are input: escaped for the terminal
	}
	const shown = 3
	if len(paths) > shown {
		paths = append(paths[:shown], fmt.Sprintf("%d more", len(paths)-shown))
	}
	return fmt.Sprintf("Scan #%d of %s, finished %s", info.ID, wordList(paths, "and"), info.FinishedAt.Local().Format(time.DateTime))
}

// newFindingFilter turns the command's options into a predicate.
func newFindingFilter(opts findingsOptions) (func(threats.Finding) bool, error) {
	var strides []catalog.Stride
	for _, s := range opts.strides {
		// "--stride SE" (or se) is accepted as two letters.
		parts := []string{s}
		if _, err := catalog.ParseStride(s); err != nil && len(s) > 1 && strings.Trim(strings.ToUpper(s), "STRIDE") == "" {
			parts = strings.Split(s, "")
		}
		for _, p := range parts {
			st, err := catalog.ParseStride(p)
			if err != nil {
				return nil, fmt.Errorf("--stride: %w", err)
			}
			strides = append(strides, st)
		}
	}
	var statuses []threats.Status
	for _, st := range opts.statuses {
		v, err := threats.ParseStatus(st)
		if err != nil {
			return nil, fmt.Errorf("--status: %w", err)
		}
		statuses = append(statuses, v)
	}
	var min threats.Severity
	if opts.severity != "" {
		var err error
		if min, err = threats.ParseSeverity(opts.severity); err != nil {
			return nil, fmt.Errorf("--severity: %w", err)
		}
	}
	return func(f threats.Finding) bool {
		return (len(strides) == 0 || slices.Contains(strides, f.Stride)) &&
			(min == "" || f.Severity.Rank() >= min.Rank()) &&
			(opts.rule == "" || f.RuleID == opts.rule) &&
			(opts.namespace == "" || f.Namespace == opts.namespace) &&
			(len(statuses) == 0 || slices.Contains(statuses, statusOf(f)))
	}, nil
}

func statusOf(f threats.Finding) threats.Status {
	if f.Triage == nil {
		return threats.Open
	}
	return f.Triage.Status
}

func sortBySeverity(findings []threats.Finding) {
	sort.SliceStable(findings, func(i, j int) bool { return severityFirst(&findings[i], &findings[j]) })
}

// severityFirst orders findings the most severe first, then by ID.
func severityFirst(a, b *threats.Finding) bool {
	if ra, rb := a.Severity.Rank(), b.Severity.Rank(); ra != rb {
		return ra > rb
	}
	return a.ID < b.ID
}

// topBySeverity returns the first n findings sortBySeverity would give,
// without copying and sorting all of them: a scan's summary shows five of
// tens of thousands.
func topBySeverity(findings []threats.Finding, n int) []threats.Finding {
	if n <= 0 {
		return nil
	}
	var top []*threats.Finding // sorted, at most n
	for i := range findings {
		f := &findings[i]
		if len(top) == n && !severityFirst(f, top[n-1]) {
			continue
		}
		at := sort.Search(len(top), func(j int) bool { return severityFirst(f, top[j]) })
		if len(top) < n {
			top = append(top, nil)
		}
		copy(top[at+1:], top[at:len(top)-1])
		top[at] = f
	}
	out := make([]threats.Finding, len(top))
	for i, f := range top {
		out[i] = *f
	}
	return out
}

func writeFindingsTable(w io.Writer, findings []threats.Finding, detail bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tS\tSTATUS\tRULE\tELEMENT\tMISSING CONTROL")
	for _, f := range findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Stride.Letter(), statusOf(f), safetext.Cell(f.RuleID), safetext.Cell(f.Element), safetext.Cell(f.MissingControl))
		if detail {
			tw.Flush()
			writeFindingDetail(w, f)
		}
	}
	return tw.Flush()
}

func writeFindingDetail(w io.Writer, f threats.Finding) {
	fmt.Fprintf(w, "    %s — %s\n", safetext.Cell(f.ID), safetext.Text(f.Title()))
	if len(f.Raised) > 0 {
		fmt.Fprintf(w, "    severity raised: %s\n", safetext.Text(strings.Join(f.Raised, "; ")))
	}
	if t := f.Triage; t != nil {
		fmt.Fprintf(w, "    triage: %s by %s on %s: %s\n", t.Status, safetext.Text(t.By), t.At.Local().Format("2006-01-02"), safetext.Text(t.Reason))
	}
	for _, ev := range f.Evidence {
		line := safetext.Cell(ev.Location())
		if ev.Object != "" {
			line += "  " + safetext.Cell(ev.Object)
		}
		if ev.Field != "" {
			line += "  " + safetext.Cell(ev.Field)
		}
		if ev.Detail != "" {
			line += "  " + safetext.Text(ev.Detail)
		}
		fmt.Fprintf(w, "    evidence: %s\n", strings.TrimSpace(line))
	}
	fmt.Fprintf(w, "    %s\n    mitigation: %s\n", safetext.Lines(strings.TrimSpace(f.Description())), safetext.Lines(strings.TrimSpace(f.Mitigation())))
	if refs := f.References().CWE; len(refs) > 0 {
		fmt.Fprintf(w, "    references: %s\n", safetext.Text(strings.Join(slices.Concat(refs, f.References().CAPEC, f.References().ATTACK), ", ")))
	}
	fmt.Fprintln(w)
}

// writeFindingsSummary prints the findings part of the scan summary: counts
// by severity and STRIDE, then the most severe few.
func writeFindingsSummary(w io.Writer, info store.ScanInfo, findings []threats.Finding) error {
	c := info.Counts
	var bySeverity []string
	for i := len(threats.Severities) - 1; i >= 0; i-- {
		sev := threats.Severities[i]
		if n := c.FindingsBySeverity[string(sev)]; n > 0 {
			bySeverity = append(bySeverity, fmt.Sprintf("%s %d", sev, n))
		}
	}
	byStride := map[catalog.Stride]int{}
	for _, f := range findings {
		byStride[f.Stride]++
	}
	var strides []string
	for _, s := range catalog.Strides {
		strides = append(strides, fmt.Sprintf("%s %d", s.Letter(), byStride[s]))
	}
	triaged := 0
	for _, f := range findings {
		if !f.IsOpen() {
			triaged++
		}
	}
	fmt.Fprintf(w, "\nFindings: %d (%s) — %s, %d triaged; catalog %s\n", c.Findings, strings.Join(bySeverity, ", "), strings.Join(strides, " "), triaged, safetext.Text(info.Catalog))
	top := topBySeverity(findings, 5)
	for _, f := range top {
		fmt.Fprintf(w, "  %-8s %s  %s\n", f.Severity, f.Stride.Letter(), safetext.Cell(f.ID))
	}
	if len(findings) > len(top) {
		fmt.Fprintf(w, "  … stridemap findings lists all %d\n", len(findings))
	}
	return nil
}
