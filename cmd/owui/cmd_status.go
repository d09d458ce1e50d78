package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/owui/owui/internal/units"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/status"
)

// errStale reports that status found a backup overdue by more than its
// interval (exit code exitStale).
var errStale = errors.New("backups overdue")

type statusOptions struct {
	Refresh bool
}

func newStatusCmd(g *globalOptions, s streams) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Where each backup stands on each target; exits 4 when one is overdue by more than its interval",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), g, *opts, s)
		},
	}
	cmd.Flags().BoolVar(&opts.Refresh, "refresh", false, "list the targets first (default: from state alone, for cheap monitoring checks)")
	return cmd
}

// statusJSON is one row of status --json.
type statusJSON struct {
	Backup               string `json:"backup"`
	Target               string `json:"target"`
	NewestSnapshot       string `json:"newest_snapshot,omitempty"`
	NewestCreatedAt      string `json:"newest_created_at,omitempty"`
	NewestAgeSeconds     *int64 `json:"newest_age_seconds,omitempty"`
	NewestVerified       string `json:"newest_verified,omitempty"`
	NewestVerifiedAt     string `json:"newest_verified_at,omitempty"`
	NewestVerifiedAge    *int64 `json:"newest_verified_age_seconds,omitempty"`
	IntervalSeconds      int64  `json:"interval_seconds"`
	NextDue              string `json:"next_due,omitempty"`
	Overdue              bool   `json:"overdue"`
	OverdueSeconds       int64  `json:"overdue_seconds"`
	Stale                bool   `json:"stale"`
	Snapshots            int    `json:"snapshots"`
	StoredBytes          int64  `json:"stored_bytes"`
	LastRunResult        string `json:"last_run_result,omitempty"`
	LastRunError         string `json:"last_run_error,omitempty"`
	LastRunAt            string `json:"last_run_at,omitempty"`
	LastRunBytesUploaded int64  `json:"last_run_bytes_uploaded,omitempty"`
}

func runStatus(ctx context.Context, g *globalOptions, opts statusOptions, s streams) error {
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
	if opts.Refresh {
		var err error
		if _, unreachable, err = ss.refreshSave(ctx); err != nil {
			return err
		}
	}
	rows, err := ss.statusRows(ctx, now)
	if err != nil {
		return err
	}
	var stale []string
	for _, r := range rows {
		if r.Stale {
			stale = append(stale, r.Backup+" on "+r.Target)
		}
	}
	if g.JSON {
		out := make([]statusJSON, 0, len(rows))
		for _, r := range rows {
			out = append(out, rowJSON(r, now))
		}
		if err := json.NewEncoder(s.Out).Encode(map[string]any{"now": now.Format(time.RFC3339), "backups": out}); err != nil {
			return err
		}
	} else if err := printStatus(s, rows, now); err != nil {
		return err
	}
	if len(stale) > 0 {
		return errors.Join(unreachable, fmt.Errorf("%w by more than their interval (or without any snapshot): %s", errStale, strings.Join(stale, ", ")))
	}
	return unreachable
}

func rowJSON(r status.Row, now time.Time) statusJSON {
	j := statusJSON{
		Backup: r.Backup, Target: r.Target,
		IntervalSeconds: int64(r.Interval / time.Second),
		Overdue:         r.OverdueBy(now) > 0,
		OverdueSeconds:  int64(r.OverdueBy(now) / time.Second),
		Stale:           r.Stale,
		Snapshots:       r.Snapshots, StoredBytes: r.StoredBytes,
	}
	if r.Newest != nil {
		age := int64(r.Age(now) / time.Second)
		j.NewestSnapshot, j.NewestCreatedAt, j.NewestAgeSeconds = r.Newest.ID, r.Newest.CreatedAt.UTC().Format(time.RFC3339), &age
	}
	if v := r.NewestVerified; v != nil {
		age := int64(r.VerifiedAge(now) / time.Second)
		j.NewestVerified, j.NewestVerifiedAt, j.NewestVerifiedAge = v.ID, r.VerifiedAt.UTC().Format(time.RFC3339), &age
	}
	if !r.NextDue.IsZero() {
		j.NextDue = r.NextDue.UTC().Format(time.RFC3339)
	}
	if a := r.LastSnapshot; a != nil {
		j.LastRunResult, j.LastRunError, j.LastRunBytesUploaded = a.Result, a.Error, a.BytesUploaded
		if !a.RunEnded.IsZero() {
			j.LastRunAt = a.RunEnded.UTC().Format(time.RFC3339)
		}
	}
	return j
}

func printStatus(s streams, rows []status.Row, now time.Time) error {
	if len(rows) == 0 {
		fmt.Fprintln(s.Out, "The policy has no backups.")
		return nil
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKUP\tTARGET\tNEWEST\tAGE\tVERIFIED\tNEXT DUE\tLAST RUN\tSTORED\tSTATE")
	for _, r := range rows {
		newest, ageText := "-", "-"
		if r.Newest != nil {
			newest, ageText = r.Newest.ID, age(r.Age(now))
		}
		verified := "-"
		if r.NewestVerified != nil {
			verified = age(r.VerifiedAge(now)) + " old"
		}
		next := "-"
		if !r.NextDue.IsZero() {
			if d := r.NextDue.Sub(now); d > 0 {
				next = "in " + planner.FormatAge(d)
			} else {
				next = "now"
			}
		}
		last := "-"
		if a := r.LastSnapshot; a != nil {
			last = a.Result
		}
		state := "ok"
		switch {
		case r.Stale && r.Newest == nil:
			state = "STALE: no snapshot"
		case r.Stale:
			state = "STALE: overdue " + planner.FormatAge(r.OverdueBy(now))
		case r.OverdueBy(now) > 0:
			state = "overdue " + planner.FormatAge(r.OverdueBy(now))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s (%d)\t%s\n", r.Backup, r.Target, newest, ageText, verified, next, last,
			units.Bytes(r.StoredBytes), r.Snapshots, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if a := r.LastSnapshot; a != nil && a.Error != "" {
			fmt.Fprintf(s.Out, "\n%s → %s, last snapshot attempt failed: %s\n", r.Backup, r.Target, a.Error)
		}
	}
	return nil
}
