package main

import (
	"context"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/owui/owui/config"
	"github.com/owui/owui/state"
	"github.com/owui/owui/watch"
)

func newWatchCmd(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "watch",
		Short: "Run until stopped: apply what comes due, reload the policy when it changes, back up when the data changes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWatch(cmd.Context(), g, s)
		},
	}
}

// runWatch keeps one state store open and makes a session per run with the
// watcher's last good policy; each run is a full apply (lock, refresh,
// plan, apply, notifications, metrics). SIGTERM cancels ctx: the run in
// progress cleans up as an interrupted apply does, then watch exits 0.
func runWatch(ctx context.Context, g *globalOptions, s streams) error {
	if _, err := loadPolicy(g, s); err != nil {
		return err
	}
	st, err := openState(ctx, g, s)
	if err != nil {
		return err
	}
	defer st.Close()
	log := newLogger(g, s.Err, s.TTY)
	return watch.Run(ctx, watch.Options{
		PolicyPath: g.policyPath(),
		Load:       config.LoadFile,
		Run: func(ctx context.Context, p *config.Policy, force map[string]string) error {
			ss := newSession(g, s, p, st)
			_, err := ss.applyOnce(ctx, g, s, applyJob{PlanAt: time.Now().UTC(), Force: force})
			return err
		},
		Newest: func(ctx context.Context) (map[[2]string]time.Time, error) {
			return newestComplete(ctx, st)
		},
		Reject: func(d hcl.Diagnostics) { printDiags(s.Err, d) },
		Log:    log,
	})
}

// newestComplete is the creation time of the newest complete snapshot per
// backup and target, as state records it.
func newestComplete(ctx context.Context, st *state.Store) (map[[2]string]time.Time, error) {
	recs, err := st.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	out := map[[2]string]time.Time{}
	for _, r := range recs {
		k := [2]string{r.Backup, r.Target}
		if r.Complete && r.CreatedAt.After(out[k]) {
			out[k] = r.CreatedAt
		}
	}
	return out, nil
}
