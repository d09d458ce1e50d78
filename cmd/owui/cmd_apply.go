package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/owui/owui/executor"
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

func runApply(ctx context.Context, g *globalOptions, opts applyOptions, s streams) (err error) {
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
	ss, err := openSession(g, s)
	if err != nil {
		return err
	}
	defer ss.Close()
	unlock, err := ss.lock(ctx, s, "apply")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	runID, err := ss.store.StartRun(ctx, "apply", time.Now().UTC())
	if err != nil {
		return err
	}
	defer func() {
		result, text := "ok", ""
		if err != nil {
			result, text = "error", err.Error()
		}
		if e := ss.store.EndRun(context.WithoutCancel(ctx), runID, time.Now().UTC(), result, text); e != nil {
			err = errors.Join(err, e)
		}
	}()

	obs, refreshed, err := ss.observe(ctx, true)
	if err != nil {
		return err
	}
	if err := ss.env.Save(ctx, refreshed); err != nil {
		return err
	}
	plan := planner.Make(ss.policy, obs, now)
	if saved != nil {
		if err := checkSavedPlan(g, saved, plan, obs); err != nil {
			return err
		}
	}
	if err := showPlan(g, s, plan); err != nil {
		return err
	}
	if len(plan.Actions) == 0 {
		return nil
	}
	if saved == nil && !opts.AutoApprove {
		if err := confirm(s); err != nil {
			return err
		}
	}
	stamp, err := g.now()
	if err != nil {
		return err
	}
	res := ss.env.Apply(ctx, plan, obs, stamp)
	summary := s.Out
	if g.JSON {
		summary = s.Err // keep standard output one JSON document
	}
	printSummary(summary, res, ss.env.BytesSent())
	return res.Err()
}

func checkSavedPlan(g *globalOptions, saved *savedPlan, plan planner.Plan, obs planner.Observed) error {
	ps, os, err := fingerprint(g.policyPath(), obs)
	if err != nil {
		return err
	}
	if ps != saved.PolicySHA256 || os != saved.ObservedSHA256 || !reflect.DeepEqual(plan.JSON().Actions, saved.Plan.Actions) {
		return errStalePlan
	}
	return nil
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
		snaps, prunes, repairs, failed, skipped, executor.HumanBytes(sent))
}
