package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/owui/owui/state"
)

type historyOptions struct {
	Limit int
}

func newHistoryCmd(g *globalOptions, s streams) *cobra.Command {
	opts := &historyOptions{}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List past runs from the state, newest first, with what each action came to",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHistory(cmd.Context(), g, *opts, s)
		},
	}
	cmd.Flags().IntVarP(&opts.Limit, "limit", "n", 20, "show this many runs (0: all)")
	return cmd
}

type historyJSON struct {
	ID      int64               `json:"id"`
	Command string              `json:"command"`
	Started string              `json:"started_at"`
	Ended   string              `json:"ended_at,omitempty"`
	Result  string              `json:"result"`
	Error   string              `json:"error,omitempty"`
	Actions []historyActionJSON `json:"actions"`
}

type historyActionJSON struct {
	Action        string `json:"action"`
	Backup        string `json:"backup"`
	Target        string `json:"target"`
	Snapshot      string `json:"snapshot,omitempty"`
	Result        string `json:"result"`
	Error         string `json:"error,omitempty"`
	BytesUploaded int64  `json:"bytes_uploaded"`
}

func runHistory(ctx context.Context, g *globalOptions, opts historyOptions, s streams) error {
	// History needs the state only, not a valid policy: it is what one
	// reads when things went wrong.
	st, err := openState(ctx, g, s)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(ctx, opts.Limit)
	if err != nil {
		return err
	}
	acts := make([][]state.ActionRecord, len(runs))
	for i, r := range runs {
		if acts[i], err = st.RunActions(ctx, r.ID); err != nil {
			return err
		}
	}
	if g.JSON {
		out := make([]historyJSON, 0, len(runs))
		for i, r := range runs {
			h := historyJSON{ID: r.ID, Command: r.Command, Started: r.Started.UTC().Format(time.RFC3339),
				Result: r.Result, Error: r.Error, Actions: []historyActionJSON{}}
			if !r.Ended.IsZero() {
				h.Ended = r.Ended.UTC().Format(time.RFC3339)
			}
			for _, a := range acts[i] {
				h.Actions = append(h.Actions, historyActionJSON{a.Action, a.Backup, a.Target, a.Snapshot, a.Result, a.Error, a.BytesUploaded})
			}
			out = append(out, h)
		}
		return json.NewEncoder(s.Out).Encode(map[string]any{"runs": out})
	}
	if len(runs) == 0 {
		fmt.Fprintln(s.Out, "No runs recorded.")
		return nil
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tCOMMAND\tSTARTED\tTOOK\tRESULT\tACTIONS")
	for i, r := range runs {
		took := "-"
		if !r.Ended.IsZero() {
			took = r.Ended.Sub(r.Started).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Command, r.Started.Local().Format("2006-01-02 15:04:05"), took, r.Result, actionSummary(acts[i]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range runs {
		if r.Error != "" {
			fmt.Fprintf(s.Out, "\nRun %d failed: %s\n", r.ID, r.Error)
		}
	}
	return nil
}

func actionSummary(acts []state.ActionRecord) string {
	if len(acts) == 0 {
		return "nothing to do"
	}
	counts := map[string]int{}
	var order []string
	for _, a := range acts {
		k := a.Action + " " + a.Result
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	out := ""
	for i, k := range order {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%d %s", counts[k], k)
	}
	return out
}
