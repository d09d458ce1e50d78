package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/owui/owui/internal/units"
	"github.com/owui/owui/state"
)

func newSnapshotsCmd(g *globalOptions, s streams) *cobra.Command {
	var refresh bool
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List complete snapshots per backup and target, with size and age",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSnapshots(cmd.Context(), g, refresh, s)
		},
	}
	cmd.Flags().BoolVar(&refresh, "refresh", true, "list the targets first (false: from state alone)")
	return cmd
}

type snapshotJSON struct {
	Backup    string `json:"backup"`
	Target    string `json:"target"`
	Snapshot  string `json:"snapshot"`
	CreatedAt string `json:"created_at"`
	Bytes     int64  `json:"bytes"`
	Files     int    `json:"files"`
}

func runSnapshots(ctx context.Context, g *globalOptions, refresh bool, s streams) error {
	now, err := g.now()
	if err != nil {
		return err
	}
	ss, err := openSession(ctx, g, s)
	if err != nil {
		return err
	}
	defer ss.Close()
	var unreachable error
	if refresh {
		var err error
		if _, unreachable, err = ss.refreshSave(ctx); err != nil {
			return err
		}
	}
	recs, err := ss.store.Snapshots(ctx)
	if err != nil {
		return err
	}
	var list []state.SnapshotRecord
	for _, r := range recs {
		if r.Complete {
			list = append(list, r)
		}
	}
	if g.JSON {
		out := make([]snapshotJSON, 0, len(list))
		for _, r := range list {
			out = append(out, snapshotJSON{r.Backup, r.Target, r.ID, r.CreatedAt.UTC().Format(time.RFC3339), r.Bytes, r.Files})
		}
		if err := json.NewEncoder(s.Out).Encode(map[string]any{"snapshots": out}); err != nil {
			return err
		}
		return unreachable
	}
	if len(list) == 0 {
		fmt.Fprintln(s.Out, "No complete snapshots.")
		return unreachable
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKUP\tTARGET\tSNAPSHOT\tSIZE\tFILES\tAGE")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", r.Backup, r.Target, r.ID,
			units.Bytes(r.Bytes), r.Files, age(now.Sub(r.CreatedAt)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return unreachable
}

// age renders a duration in its largest sensible units.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
