package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/owui/owui/planner"
)

type planOptions struct {
	Out              string
	DetailedExitcode bool
	Refresh          bool
}

func (o *planOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Out, "out", "", "save the plan to FILE for a later apply")
	cmd.Flags().BoolVar(&o.DetailedExitcode, "detailed-exitcode", false, "exit 0 when nothing to do, 2 when there are changes, 1 on error")
	cmd.Flags().BoolVar(&o.Refresh, "refresh", true, "list the targets first (false: plan from state alone)")
}

func newPlanCmd(g *globalOptions, s streams) *cobra.Command {
	opts := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would snapshot, prune and repair, and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), g, *opts, s)
		},
	}
	opts.addFlags(cmd)
	return cmd
}

func runPlan(ctx context.Context, g *globalOptions, opts planOptions, s streams) error {
	now, err := g.now()
	if err != nil {
		return err
	}
	ss, err := openSession(ctx, g, s)
	if err != nil {
		return err
	}
	defer ss.Close()
	obs, _, err := ss.observe(ctx, opts.Refresh)
	if err != nil {
		return err
	}
	plan := planner.Make(ss.policy, obs, now)
	plan = ss.measureWindows(ctx, &obs, plan, func(obs planner.Observed) planner.Plan { return planner.Make(ss.policy, obs, now) })
	if err := showPlan(g, s, plan); err != nil {
		return err
	}
	if opts.Out != "" {
		if err := writePlanFile(opts.Out, g.policyPath(), plan, obs); err != nil {
			return err
		}
	}
	if opts.DetailedExitcode && len(plan.Actions) > 0 {
		return errChanges
	}
	return nil
}

// showPlan prints the plan as JSON or as the text view of that same JSON.
func showPlan(g *globalOptions, s streams, plan planner.Plan) error {
	jp := plan.JSON()
	if g.JSON {
		enc := json.NewEncoder(s.Out)
		return enc.Encode(jp)
	}
	if err := planner.RenderText(s.Out, jp, planner.RenderOptions{Color: g.color(s)}); err != nil {
		return err
	}
	if g.Verbose && len(plan.Kept) > 0 {
		fmt.Fprintln(s.Out, "\nRetention keeps:")
		return planner.RenderKept(s.Out, plan.Kept)
	}
	return nil
}
