package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/owui/owui/planner"
)

func newRefreshCmd(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "refresh",
		Short: "Rebuild state from what the targets hold",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRefresh(cmd.Context(), g, s)
		},
	}
}

func runRefresh(ctx context.Context, g *globalOptions, s streams) (err error) {
	ss, err := openSession(ctx, g, s)
	if err != nil {
		return err
	}
	defer ss.Close()
	unlock, err := ss.lock(ctx, s, "refresh")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	r, unreachable, err := ss.refreshSave(ctx)
	if err != nil {
		return err
	}
	counts := map[planner.Status]int{}
	for _, sn := range r.Observed.Snapshots {
		counts[sn.Status]++
	}
	fmt.Fprintf(s.Out, "Refreshed: %d complete, %d incomplete on the targets; %d recorded in state but gone from the targets.\n",
		counts[planner.StatusComplete], counts[planner.StatusIncomplete], counts[planner.StatusMissing])
	return unreachable
}
