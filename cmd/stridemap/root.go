package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/stridemap/stridemap/internal/safetext"
	"github.com/stridemap/stridemap/model/store"
	"github.com/stridemap/stridemap/pipeline"
)

// app holds what every command shares: the streams and the store location.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	dbPath         string
	verbose        bool
	log            *slog.Logger
	// startup, if set, logs what main did before the command ran.
	startup func(*slog.Logger)

	// isTerminal says whether a stream is a terminal, which decides
	// defaults meant for people (graph's table, report's refusal to pour
	// HTML on a screen); tests replace it to try both.
	isTerminal func(stream any) bool
	// privileges says who stridemap runs as, which decides the advice
	// given when the observer is refused; tests replace it.
	privileges func() privileges
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, log: slog.New(slog.DiscardHandler), isTerminal: isTerminal,
		privileges: func() privileges { return currentPrivileges(os.Geteuid()) }}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "stridemap",
		Short: "Threat-model microservices on Kubernetes from what is really deployed",
		Long: `stridemap discovers the architecture of microservices on Kubernetes — workloads,
data stores, gateways, the data flows between them and the trust boundaries they
cross — from manifests, and stores it in a SQLite file so every scan is kept and
can be compared.

Start with a scan, then look at what was found:

  stridemap scan -f deploy/              # files and directories of YAML/JSON
  stridemap scan -k overlays/production  # a kustomization, rendered in-process
  helm template my-chart | stridemap scan -f -
  stridemap                              # on a terminal: review the latest scan in the TUI
  stridemap findings --severity high     # threats found, with evidence (--detail)
  stridemap scans                        # scan history
  stridemap graph --format svg -o graph.svg
  stridemap policy suggest -o policies/  # least-privilege NetworkPolicies from the flows
  stridemap report --format html -o threat-model.html
  sudo stridemap observe --duration 1m   # add the flows the kernel sees (eBPF)

The store is .stridemap/stridemap.db in the current directory unless --db or
STRIDEMAP_DB says otherwise.

In a container or cgroup with a memory limit, Go's soft memory limit is set a tenth
(at least 64 MiB) below it, unless GOMEMLIMIT is set. Unless GOGC is set, the heap
may grow to 64 MiB before Go's collector runs, so a scan collects less often while
it is small. -v logs both.

Exit codes: 0 success; 1 open findings at or above "scan|report --fail-on"; 2 usage error
or nothing could be read; 3 the scan was stored but some inputs could not be
used (each is listed on stderr).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			HiddenDefaultCmd: false,
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	defaultDB := os.Getenv("STRIDEMAP_DB")
	if defaultDB == "" {
		defaultDB = store.DefaultPath
	}
	root.PersistentFlags().StringVar(&a.dbPath, "db", defaultDB, "SQLite store to use (env STRIDEMAP_DB)")
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log each step and its duration to stderr")
	root.PersistentPreRun = func(*cobra.Command, []string) {
		if a.verbose {
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		if a.startup != nil {
			a.startup(a.log)
		}
	}
	root.AddCommand(a.scanCommand(), a.watchCommand(), a.scansCommand(), a.diffCommand(), a.graphCommand(), a.findingsCommand(), a.reportCommand(), a.triageCommand(), a.questionsCommand(), a.catalogCommand(), a.storeCommand(), versionCommand())
	root.AddCommand(a.tuiCommand())
	root.AddCommand(a.observeCommand())
	root.AddCommand(a.policyCommand())
	root.RunE = a.runRoot // no arguments on a terminal: the TUI; otherwise the help, as before
	root.Args = unknownCommand
	root.SuggestionsMinimumDistance = 2
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w; %s --help lists the flags", err, cmd.CommandPath())
	})
	return root
}

// unknownCommand is the Args of a command that takes no arguments of its
// own but has subcommands: a mistyped subcommand gets one line with what
// was probably meant and where the list is, rather than cobra's suggestion
// over several lines, or the help and success.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + orList(s) + "?"
	}
	return fmt.Errorf("%s (%s --help lists the commands)", msg, cmd.CommandPath())
}

// openStore opens the store named by --db, creating it if needed: for
// commands that write.
func (a *app) openStore(ctx context.Context) (*store.Store, error) {
	s, err := store.Open(ctx, a.dbPath, store.OnUpgrade(func(from, to int) {
		fmt.Fprintln(a.stderr, safetext.Message(pipeline.UpgradeNotice(a.dbPath, from, to)))
	}))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// readStore opens the existing store named by --db, for commands that
// need what a scan stored. Where there is none it creates nothing and says
// where it looked and what to run.
func (a *app) readStore(ctx context.Context) (*store.Store, error) {
	s, err := store.OpenExisting(ctx, a.dbPath)
	if errors.Is(err, store.ErrNoStore) {
		return nil, noStore(err, "run stridemap scan -f DIR first, or name the store with --db PATH")
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// noStore is the one line said when there is no store: the path looked
// for, escaped (it may come from $STRIDEMAP_DB), and what to do.
func noStore(err error, advice string) *exitError {
	return &exitError{code: exitUsage, message: safetext.Text(err.Error()) + ": " + advice}
}
