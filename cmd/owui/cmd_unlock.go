package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/owui/owui/executor"
	"github.com/owui/owui/state"
)

type unlockOptions struct {
	executor.UnlockOptions
}

func (o *unlockOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Backup, "backup", "", "only this backup's leases")
	f.StringVar(&o.Target, "target", "", "only leases on this target")
	f.BoolVar(&o.Force, "force", false, "also remove locks and leases whose holder may still be running")
}

func newUnlockCmd(g *globalOptions, s streams) *cobra.Command {
	var o unlockOptions
	cmd := &cobra.Command{
		Use:   "unlock",
		Short: "Remove the state lock and target leases left by owui runs that are gone",
		Long: `An apply holds a lock on its state and a lease (<target>/<backup>/.owui-lock)
on every prefix it writes to. A run that dies leaves them behind: the next
run on the same host takes them over at once, and a lease from another host
expires after ten minutes. unlock removes, now, the state lock and the
leases whose holder is gone (expired, or a process of this host that no
longer runs). --force removes the others too: use it only when you know
their run is gone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUnlock(cmd.Context(), g, s, o)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func runUnlock(ctx context.Context, g *globalOptions, s streams, o unlockOptions) error {
	ss, err := openSession(ctx, g, s)
	if err != nil {
		return err
	}
	defer ss.Close()
	if err := o.validate(ss); err != nil {
		return err
	}
	var errs []error
	if err := unlockState(ctx, ss.store, s, o.Force); err != nil {
		errs = append(errs, err)
	}
	for _, u := range ss.env.Unlock(ctx, o.UnlockOptions) {
		fmt.Fprintln(s.Out, u)
		if u.Err != nil {
			errs = append(errs, fmt.Errorf("unlock %s on %s: %w", u.Backup, u.Target, u.Err))
		}
	}
	return errors.Join(errs...)
}

func (o unlockOptions) validate(ss *session) error {
	if o.Backup != "" && ss.policy.Backup(o.Backup) == nil {
		return fmt.Errorf("unlock: no backup %q in the policy", o.Backup)
	}
	if o.Target != "" && ss.policy.Target(o.Target) == nil {
		return fmt.Errorf("unlock: no target %q in the policy", o.Target)
	}
	return nil
}

// unlockState removes the state's apply lock when its holder is gone, or
// with force.
func unlockState(ctx context.Context, st *state.Store, s streams, force bool) error {
	h, held, err := st.LockHeld(ctx)
	if err != nil || !held {
		if err == nil {
			fmt.Fprintln(s.Out, "state: not locked")
		}
		return err
	}
	host, _ := os.Hostname()
	alive := h.Host != host || state.ProcessAlive(h.PID)
	if alive && !force {
		why := "its run is still at work"
		if h.Host != host {
			why = "held from another host; use --force if that run is gone"
		}
		fmt.Fprintf(s.Out, "state: left the lock of %s (%s)\n", h, why)
		return nil
	}
	if _, err := st.ClearLock(ctx); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "state: removed the lock of %s\n", h)
	return nil
}
