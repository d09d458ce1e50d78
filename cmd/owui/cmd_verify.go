package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/notify"
	"github.com/owui/owui/planner"
)

// errVerifyFailed reports that a snapshot failed verification (exit 1).
var errVerifyFailed = errors.New("verification failed")

type verifyOptions struct {
	Target   string
	ReadData bool
}

func (o *verifyOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Target, "target", "", "verify only on this target")
	cmd.Flags().BoolVar(&o.ReadData, "read-data", false, "download every file: check sha256, SQLite integrity_check and that uploads and vector segments match the databases")
}

func newVerifyCmd(g *globalOptions, s streams) *cobra.Command {
	opts := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [BACKUP]",
		Short: "Check that every complete snapshot is whole on its targets (--read-data: and that its data is intact)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), g, *opts, s, args)
		},
	}
	opts.addFlags(cmd)
	return cmd
}

// runVerify refreshes, verifies every complete snapshot of the chosen
// backups and targets, prints each result, records it in state and sends
// verify_failed notifications for the failures.
func runVerify(ctx context.Context, g *globalOptions, opts verifyOptions, s streams, args []string) (err error) {
	ss, err := openSession(ctx, g, s)
	if err != nil {
		return err
	}
	defer ss.Close()
	if err := checkVerifyArgs(ss, opts, args); err != nil {
		return err
	}
	unlock, err := ss.lock(ctx, s, "verify")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	r, unreachable, err := ss.refreshSave(ctx)
	if err != nil {
		return err
	}
	var outcomes []executor.Outcome
	bad := 0
	for _, sn := range r.Observed.Snapshots {
		if sn.Status != planner.StatusComplete || (len(args) > 0 && sn.Backup != args[0]) || (opts.Target != "" && sn.Target != opts.Target) {
			continue
		}
		a := planner.Action{Kind: planner.KindVerify, Backup: sn.Backup, Target: sn.Target, Snapshot: sn.ID, CreatedAt: sn.CreatedAt, ReadData: opts.ReadData}
		o := executor.Outcome{Action: a}
		v, verr := ss.env.Verify(ctx, sn.Backup, sn.Target, sn.ID, opts.ReadData)
		switch {
		case verr != nil:
			o.Err = verr
			fmt.Fprintf(s.Out, "ERROR   %s/%s on %s: %v\n", sn.Backup, sn.ID, sn.Target, verr)
		case v.OK():
			fmt.Fprintf(s.Out, "ok      %s/%s on %s\n", sn.Backup, sn.ID, sn.Target)
		default:
			o.Err, o.Problems = v.Err(), v.Problems
			fmt.Fprintf(s.Out, "FAILED  %s/%s on %s:\n", sn.Backup, sn.ID, sn.Target)
			for _, p := range v.Problems {
				fmt.Fprintf(s.Out, "          %s\n", p)
			}
		}
		if o.Err != nil {
			bad++
		}
		outcomes = append(outcomes, o)
		if ctx.Err() != nil {
			break
		}
	}
	ss.notifyVerify(ctx, outcomes)
	if bad > 0 {
		err = fmt.Errorf("%w: %d of %d snapshots", errVerifyFailed, bad, len(outcomes))
	}
	return errors.Join(err, unreachable, ctx.Err())
}

// checkVerifyArgs rejects a backup or target the policy does not name.
func checkVerifyArgs(ss *session, opts verifyOptions, args []string) error {
	if len(args) > 0 && ss.policy.Backup(args[0]) == nil {
		return fmt.Errorf("verify: the policy has no backup %q", args[0])
	}
	if opts.Target != "" && !slices.ContainsFunc(ss.policy.Targets, func(t *config.Target) bool { return t.Name == opts.Target }) {
		return fmt.Errorf("verify: the policy has no target %q", opts.Target)
	}
	return nil
}

// notifyVerify sends the verify_failed (and failure) events of a verify
// run to whoever asked for them; their own failures are logged.
func (ss *session) notifyVerify(ctx context.Context, outcomes []executor.Outcome) {
	sender := newSender(ss.policy)
	host, _ := os.Hostname()
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	for _, ev := range notify.Events(notify.Run{Host: host, Ended: time.Now().UTC(), Outcomes: outcomes}) {
		if ev.Kind == "success" || !sender.Wants(ev.Kind) {
			continue
		}
		if err := sender.Send(nctx, ev); err != nil {
			ss.log.Error("notification failed", "event", ev.Kind, "error", err.Error())
		}
	}
}
