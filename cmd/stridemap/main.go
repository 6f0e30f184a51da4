// Command stridemap builds a threat model of microservices on Kubernetes
// from their manifests: it discovers the architecture, stores it in SQLite
// and shows it. Run "stridemap --help" for the commands.
//
// It only wires: each command parses its flags, calls the pipeline
// (pipeline.Scan, pipeline.Merge) or a view (tui, export) and prints the
// result; docs/architecture.md says which package owns which step.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/stridemap/stridemap/internal/gcfloor"
	"github.com/stridemap/stridemap/internal/memlimit"
	"github.com/stridemap/stridemap/internal/safetext"
)

// Exit codes, documented in the README and in "stridemap --help".
const (
	exitOK       = 0
	exitFindings = 1 // findings at or above --fail-on
	exitUsage    = 2 // bad flags or arguments, or nothing could be read
	exitPartial  = 3 // the scan was stored, but some inputs could not be used
)

// heapFloor is the heap Go's collector lets grow before it collects
// (internal/gcfloor). A scan of 500 copies of Online Boutique peaks at
// about 150 MiB of heap while it builds its graph; below that, a floor of
// 64 MiB took 4% less CPU (10 collections instead of 14) at the same peak.
// 80 MiB took 7% less, but raised the peak by a few MiB.
const heapFloor = 64 << 20

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Before any work: a scan in a container with a memory limit keeps
	// its heap below it (internal/memlimit); -v says what was set.
	memory, memoryErr := memlimit.Apply(os.Getenv)
	floor := gcfloor.Start(heapFloor, os.Getenv)
	a := newApp(os.Stdin, os.Stdout, os.Stderr)
	a.startup = func(log *slog.Logger) {
		if memoryErr != nil {
			log.Debug("no memory limit from the cgroup", "error", memoryErr)
		} else if memory != "" {
			log.Debug(memory)
		}
		if floor {
			log.Debug(fmt.Sprintf("the heap may reach %d MiB before Go's collector runs; GOGC, if set, paces it instead", heapFloor>>20))
		}
	}
	os.Exit(a.execute(ctx, os.Args[1:]))
}

// run executes the CLI and returns the process exit code. It is separate
// from main so tests can drive the real command tree.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newApp(stdin, stdout, stderr).execute(ctx, args)
}

// execute runs the command tree on args and returns the exit code; tests
// call it on an app whose terminal detection they replaced.
func (a *app) execute(ctx context.Context, args []string) int {
	cmd := a.rootCommand()
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	var exit *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &exit):
		if exit.message != "" {
			fmt.Fprintln(a.stderr, "stridemap:", safetext.Message(exit.message))
		}
		return exit.code
	default:
		fmt.Fprintln(a.stderr, "stridemap:", safetext.Message(err.Error()))
		return exitUsage
	}
}

// exitError carries a specific exit code out of a command.
type exitError struct {
	code    int
	message string
}

func (e *exitError) Error() string { return e.message }
