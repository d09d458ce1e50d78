package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/owui/owui/docker"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/state"
)

func newRecoverCmd(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "recover",
		Short: "Unpause or start the containers a killed owui left paused or stopped",
		Long: `owui records every container it pauses or stops in its state before doing
so. When owui is killed inside that window (kill -9, power cut), every owui
command that opens the state puts those containers back first; recover does
only that, and fails when a container cannot be put back.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRecover(cmd.Context(), g, s)
		},
	}
}

func runRecover(ctx context.Context, g *globalOptions, s streams) error {
	st, err := openStateOnly(g)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := recoverHolds(ctx, st, s); err != nil {
		return err
	}
	holds, err := st.Holds(ctx)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	for _, h := range holds {
		// Holds left now belong to live runs, or to another host.
		why := "its owui run is still at work"
		if h.Host != host {
			why = "it was made on another host, whose owui this one cannot check"
		}
		fmt.Fprintf(s.Out, "Left alone: %s (%s).\n", h, why)
	}
	if len(holds) == 0 {
		fmt.Fprintln(s.Out, "No container is left paused or stopped by owui.")
	}
	return nil
}

// recoverHolds puts back what dead owui processes left paused or stopped
// and says so on standard error, one line per container.
func recoverHolds(ctx context.Context, st *state.Store, s streams) error {
	rs, err := executor.Recover(ctx, st, docker.Connect)
	for _, r := range rs {
		if r.Err != nil {
			continue // in err, printed by the caller
		}
		fmt.Fprintln(s.Err, r)
	}
	return err
}
