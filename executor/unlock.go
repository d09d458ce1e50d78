package executor

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/state"
)

// UnlockOptions choose which target leases Unlock looks at.
type UnlockOptions struct {
	// Backup and Target narrow Unlock to one backup or one target; empty
	// means all of the policy's.
	Backup, Target string
	// Force removes leases that look alive too: for a holder on another
	// host that is known to be gone before its lease expires.
	Force bool
}

// Unlocked is what Unlock found and did for one backup on one target.
type Unlocked struct {
	Backup, Target string
	// Lease is the lease found; nil when there was none.
	Lease *target.Lease
	// Removed says the lease was removed; otherwise Why says why not.
	Removed bool
	Why     string
	Err     error
}

func (u Unlocked) String() string {
	switch {
	case u.Err != nil:
		return fmt.Sprintf("%s on %s: %v", u.Backup, u.Target, u.Err)
	case u.Lease == nil:
		return fmt.Sprintf("%s on %s: no lease", u.Backup, u.Target)
	case u.Removed:
		return fmt.Sprintf("%s on %s: removed the lease of %s (%s)", u.Backup, u.Target, u.Lease, u.Why)
	default:
		return fmt.Sprintf("%s on %s: left the lease of %s (%s)", u.Backup, u.Target, u.Lease, u.Why)
	}
}

// Unlock removes target leases left by runs that are gone: expired ones,
// and those whose holder on this host no longer runs; with Force, every
// lease it finds. Unreachable targets are reported, not fatal.
func (e *Env) Unlock(ctx context.Context, opts UnlockOptions) []Unlocked {
	host, _ := os.Hostname()
	var out []Unlocked
	for _, b := range e.Policy.Backups {
		if opts.Backup != "" && b.Name != opts.Backup {
			continue
		}
		for _, tname := range b.To {
			if opts.Target != "" && tname != opts.Target {
				continue
			}
			u := Unlocked{Backup: b.Name, Target: tname}
			u.Lease, u.Removed, u.Why, u.Err = e.unlockOne(ctx, b.Name, tname, host, opts.Force)
			out = append(out, u)
		}
	}
	return out
}

func (e *Env) unlockOne(ctx context.Context, backup, tname, host string, force bool) (*target.Lease, bool, string, error) {
	t, err := e.Target(ctx, tname)
	if err != nil {
		return nil, false, "", err
	}
	l, err := t.ReadLease(ctx, backup)
	if err != nil || l == nil {
		return nil, false, "", err
	}
	var why string
	switch {
	case time.Now().After(l.Expires):
		why = "expired"
	case l.Host == host && !state.ProcessAlive(l.PID):
		why = fmt.Sprintf("pid %d is no longer running", l.PID)
	case force:
		why = "--force"
	case l.Host == host:
		return l, false, "its run is still at work", nil
	default:
		return l, false, "held by a run on another host; if that run is gone, wait for the lease to expire or use --force", nil
	}
	if err := t.DeleteLease(ctx, backup); err != nil {
		return l, false, "", err
	}
	return l, true, why, nil
}
