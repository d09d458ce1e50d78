package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"

	"github.com/owui/owui/executor"
	"github.com/owui/owui/state"
)

// Exit codes (DESIGN.md contract).
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
	exitLocked  = 3
	// exitStale: owui status found a backup overdue by more than its
	// interval, or without any complete snapshot.
	exitStale = 4
)

// errChanges reports that plan --detailed-exitcode found something to do.
var errChanges = errors.New("changes present")

// diagsError carries policy diagnostics that were already printed.
type diagsError struct{ diags hcl.Diagnostics }

func (e diagsError) Error() string { return e.diags.Error() }

// run executes the command line and maps its error to an exit code: the one
// place where that happens.
func run(ctx context.Context, args []string, s streams) int {
	root := newRootCmd(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return exitCodeFor(err, s.Err)
}

func exitCodeFor(err error, stderr io.Writer) int {
	var locked *state.LockedError
	var leased *executor.LeasedError
	var diags diagsError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errChanges):
		return exitChanges
	case errors.Is(err, errStale):
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitStale
	case errors.As(err, &locked):
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitLocked
	case errors.As(err, &leased):
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitLocked
	case errors.As(err, &diags):
		return exitError
	case errors.Is(err, context.Canceled):
		// Joined with the cancellation may be another target's own error.
		if err.Error() == context.Canceled.Error() {
			fmt.Fprintln(stderr, "Error: interrupted")
		} else {
			fmt.Fprintf(stderr, "Error: interrupted: %v\n", err)
		}
		return exitError
	default:
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
}
