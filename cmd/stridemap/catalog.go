package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/internal/safetext"
)

func (a *app) catalogCommand() *cobra.Command {
	var dirs []string
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "List, show and lint threat rules",
		Long: `The threat catalog is a set of rules, each a CEL condition over the architecture
graph with its STRIDE category, the control whose absence it reports, likelihood,
impact, description, mitigation and references. The built-in rules are embedded;
--catalog DIR adds user rules (a YAML list per file): a new id adds a rule, a
built-in id overrides the fields given, and "disabled: true" removes a rule.

  - id: no-latest-images          # lower-case words joined by '-'
    title: Image uses the latest tag
    stride: tampering               # or S T R I D E
    appliesTo: [process, datastore] # process datastore external gateway flow boundary cluster
    condition: node.workload.containers.exists(c, c.image.tag == "latest")
    missingControl: pinned-images
    likelihood: medium              # low medium high
    impact: medium
    description: …
    mitigation: …

  - id: container-privileged        # override one field of a built-in rule
    impact: medium

  - id: shared-service-account      # switch a rule off
    disabled: true

docs/catalog.md lists what a condition can see and the control types detected.`,
		Args: unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringArrayVar(&dirs, "catalog", nil, "user rule directory to load over the built-in rules (repeatable)")
	var format string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the rules",
		Example: "  stridemap catalog list\n  stridemap catalog list --catalog ./rules --format json",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			format, err := choice("--format", format, "table", "json")
			if err != nil {
				return err
			}
			c, err := catalog.Load(dirs...)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(a.stdout, c.Rules)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTRIDE\tAPPLIES TO\tL/I\tTITLE")
			for _, r := range c.Rules {
				var targets []string
				for _, t := range r.AppliesTo {
					targets = append(targets, string(t))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s\n", safetext.Cell(r.ID), r.Stride.Letter(), safetext.Cell(strings.Join(targets, ",")), safetext.Text(string(r.Likelihood)), safetext.Text(string(r.Impact)), safetext.Text(r.Title))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&format, "format", "table", "output format: table or json")
	show := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one rule in full",
		Example: "  stridemap catalog show container-privileged",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := catalog.Load(dirs...)
			if err != nil {
				return err
			}
			r := c.Rule(args[0])
			if r == nil {
				return fmt.Errorf("no rule %q; stridemap catalog list shows them all", args[0])
			}
			return writeRule(a.stdout, r)
		},
	}
	lint := &cobra.Command{
		Use:   "lint DIR...",
		Short: "Check user rule directories: YAML, required fields and CEL",
		Long: `Load the built-in rules with the given user rule directories and report every
problem, each with its file, line and rule: YAML errors, missing fields, unknown
STRIDE categories or targets, and CEL conditions that do not compile or use a
field the model does not have. Exits 2 when there are problems.`,
		Example: "  stridemap catalog lint ./threat-rules",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := catalog.Load(args...)
			var le *catalog.LoadError
			if errors.As(err, &le) {
				for _, p := range le.Problems {
					fmt.Fprintln(a.stdout, safetext.Message(fmt.Sprint(p)))
				}
				return &exitError{code: exitUsage, message: fmt.Sprintf("%d problem(s) in the catalog", len(le.Problems))}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "ok: %d rules load and compile\n", len(c.Rules))
			return nil
		},
	}
	cmd.AddCommand(list, show, lint)
	return cmd
}

func writeRule(w interface{ Write([]byte) (int, error) }, r *catalog.Rule) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s\n", r.ID, r.Title)
	fmt.Fprintf(&b, "STRIDE:          %s\n", r.Stride)
	var targets []string
	for _, t := range r.AppliesTo {
		targets = append(targets, string(t))
	}
	fmt.Fprintf(&b, "Applies to:      %s\n", strings.Join(targets, ", "))
	fmt.Fprintf(&b, "Missing control: %s\n", r.MissingControl)
	fmt.Fprintf(&b, "Likelihood:      %s   Impact: %s\n", r.Likelihood, r.Impact)
	fmt.Fprintf(&b, "Condition:       %s\n", r.Condition)
	if r.Evidence != "" {
		fmt.Fprintf(&b, "Evidence:        %s\n", r.Evidence)
	}
	fmt.Fprintf(&b, "Defined at:      %s\n\n", r.Source)
	fmt.Fprintf(&b, "%s\n\nMitigation: %s\n", strings.TrimSpace(r.Description), strings.TrimSpace(r.Mitigation))
	refs := r.References
	for _, ref := range []struct {
		name string
		ids  []string
	}{{"CWE", refs.CWE}, {"CAPEC", refs.CAPEC}, {"ATT&CK", refs.ATTACK}, {"OWASP", refs.OWASP}, {"NSA/CISA", refs.NSA}} {
		if len(ref.ids) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", ref.name, strings.Join(ref.ids, "; "))
		}
	}
	_, err := w.Write([]byte(safetext.Message(b.String()))) // a user catalog is input too
	return err
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
