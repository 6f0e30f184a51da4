package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/catalog"
	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/threats"
)

func (a *app) questionsCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "questions",
		Short: "List the review questions and their answers",
		Long: `Some controls cannot be seen in manifests, the API or the wire: SAST in CI,
dependency scanning, tested backups and disaster recovery, incident response,
compliance scope, training. stridemap asks them as review questions. Answers are
stored with who gave them and when, and stay until they are changed.`,
		Example: `  stridemap questions
  stridemap questions answer backups-tested --answer partly --note "orders-db only; SEC-77"`,
		Args: unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := choice("--format", format, "table", "json")
			if err != nil {
				return err
			}
			qs, err := catalog.Questions()
			if err != nil {
				return err
			}
			answers, err := a.storedAnswers(cmd.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				type answered struct {
					catalog.Question
					Answer *store.Decision `json:"answer,omitempty"`
				}
				out := []answered{}
				for _, q := range qs {
					item := answered{Question: q}
					if d, ok := answers[q.ID]; ok {
						item.Answer = &d
					}
					out = append(out, item)
				}
				return writeJSON(a.stdout, out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tANSWER\tQUESTION")
			for _, q := range qs {
				answer := "—"
				if d, ok := answers[q.ID]; ok {
					answer = d.Status
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", safetext.Cell(q.ID), safetext.Cell(answer), safetext.Text(q.Question))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\n%d of %d answered. Answer with: stridemap questions answer ID --answer %s [--note …]\n",
				countAnswered(qs, answers), len(qs), strings.Join(catalog.Answers, "|"))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.AddCommand(a.answerCommand())
	return cmd
}

// storedAnswers are the answers in the store; none when there is no store
// yet, which listing the questions (they come with the catalog) does not
// create.
func (a *app) storedAnswers(ctx context.Context) (map[string]store.Decision, error) {
	s, err := store.OpenExisting(ctx, a.dbPath)
	if errors.Is(err, store.ErrNoStore) {
		return map[string]store.Decision{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer s.Close()
	return s.Answers(ctx)
}

func countAnswered(qs []catalog.Question, answers map[string]store.Decision) int {
	n := 0
	for _, q := range qs {
		if _, ok := answers[q.ID]; ok {
			n++
		}
	}
	return n
}

func (a *app) answerCommand() *cobra.Command {
	var answer, note, by string
	cmd := &cobra.Command{
		Use:     "answer ID --answer yes|partly|no|n/a [--note TEXT]",
		Short:   "Answer a review question",
		Example: `  stridemap questions answer sast-in-ci --answer yes --note "semgrep blocks merges"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			answer, err := choice("--answer", answer, catalog.Answers...)
			if err != nil {
				return err
			}
			qs, err := catalog.Questions()
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(qs, func(q catalog.Question) bool { return q.ID == args[0] }) {
				return fmt.Errorf("no question %q; stridemap questions lists them", args[0])
			}
			s, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			d := store.Decision{Subject: args[0], Status: answer, Reason: note, Who: threats.CurrentUser(by), At: time.Now()}
			if err := s.AddAnswer(cmd.Context(), d); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: %s by %s\n", safetext.Cell(args[0]), safetext.Text(answer), safetext.Text(d.Who))
			return nil
		},
	}
	cmd.Flags().StringVar(&answer, "answer", "", "yes, partly, no or n/a")
	cmd.Flags().StringVar(&note, "note", "", "evidence or context for the answer")
	cmd.Flags().StringVar(&by, "by", "", "who answers (default: $STRIDEMAP_USER, else the login name)")
	_ = cmd.MarkFlagRequired("answer")
	return cmd
}
