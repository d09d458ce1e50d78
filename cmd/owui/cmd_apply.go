package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/owui/owui/executor"
	"github.com/owui/owui/internal/units"
	"github.com/owui/owui/planner"
)

type applyOptions struct {
	AutoApprove bool
	PlanFile    string
}

func newApplyCmd(g *globalOptions, s streams) *cobra.Command {
	opts := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE]",
		Short: "Make the backups match the policy",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.PlanFile = args[0]
			}
			return runApply(cmd.Context(), g, *opts, s)
		},
	}
	cmd.Flags().BoolVar(&opts.AutoApprove, "auto-approve", false, "apply without asking for yes")
	return cmd
}

// errStalePlan is returned when a saved plan no longer matches the world.
var errStalePlan = errors.New("the policy or the targets changed since the plan was saved; run owui plan again")

func runApply(ctx context.Context, g *globalOptions, opts applyOptions, s streams) error {
	// now is when the plan is made as of; new snapshots are stamped with
	// --now or, without it, the clock when they are made.
	now, err := g.now()
	if err != nil {
		return err
	}
	var saved *savedPlan
	if opts.PlanFile != "" {
		if saved, now, err = readPlanFile(opts.PlanFile); err != nil {
			return err
		}
	}
	ss, err := openSession(ctx, g, s)
	if err != nil {
		return err
	}
	defer ss.Close()
	_, err = ss.applyOnce(ctx, g, s, applyJob{
		PlanAt:   now,
		Saved:    saved,
		Confirm:  saved == nil && !opts.AutoApprove,
		ShowPlan: true,
	})
	return err
}

func checkSavedPlan(g *globalOptions, saved *savedPlan, plan planner.Plan, obs planner.Observed) error {
	ps, os, err := fingerprint(g.policyPath(), obs)
	if err != nil {
		return err
	}
	if ps != saved.PolicySHA256 || os != saved.ObservedSHA256 || !sameActions(plan.JSON().Actions, saved.Plan.Actions) {
		return errStalePlan
	}
	return nil
}

// sameActions compares two plans' actions without their reasons: the
// policy and observed fingerprints already cover what reasons are made
// of, except the quiet-window estimate, which follows the data's size
// from one minute to the next and must not make a saved plan stale.
func sameActions(a, b []planner.JSONAction) bool {
	strip := func(as []planner.JSONAction) []planner.JSONAction {
		out := slices.Clone(as)
		for i := range out {
			out[i].Reason = ""
		}
		return out
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// confirm asks for "yes" on a terminal; without one it refuses.
func confirm(s streams) error {
	if !s.InTTY {
		return errors.New("standard input is not a terminal: run apply with --auto-approve, or apply a saved plan")
	}
	fmt.Fprint(s.Out, "\nDo you want to perform these actions? Only 'yes' will be accepted: ")
	line, _ := bufio.NewReader(s.In).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("apply cancelled")
	}
	return nil
}

func printSummary(w io.Writer, res *executor.Result, sent int64) {
	var snaps, prunes, repairs, failed, skipped int
	for _, o := range res.Outcomes {
		switch {
		case o.Err != nil:
			failed++
		case o.Skipped != "":
			skipped++
		case o.Action.Kind == planner.KindSnapshot:
			snaps++
		case o.Action.Kind == planner.KindPrune:
			prunes++
		case o.Action.Kind == planner.KindRepair:
			repairs++
		}
	}
	fmt.Fprintf(w, "\nApply complete: %d snapshotted, %d pruned, %d repaired, %d failed, %d skipped; %s uploaded.\n",
		snaps, prunes, repairs, failed, skipped, units.Bytes(sent))
}
