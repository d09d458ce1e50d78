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
	drift := map[planner.Drift]int{}
	for _, sn := range r.Observed.Snapshots {
		counts[sn.Status]++
		drift[sn.Drift]++
	}
	fmt.Fprintf(s.Out, "Refreshed: %d complete, %d incomplete on the targets; %d recorded in state but gone from the targets.\n",
		counts[planner.StatusComplete], counts[planner.StatusIncomplete], counts[planner.StatusMissing])
	if n, a := drift[planner.DriftChanged], drift[planner.DriftAdded]; n+a > 0 {
		fmt.Fprintf(s.Out, "Changed outside owui: %d manifests altered on the targets (re-verify with owui verify --read-data), %d snapshots found that state did not record (adopted).\n", n, a)
	}
	return unreachable
}
