package executor

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// Refreshed is what the targets hold, read from their listings and manifests.
type Refreshed struct {
	// Observed is the planner's view: complete and incomplete snapshots on
	// the targets, plus those state records that the targets lack.
	Observed planner.Observed
	// Records is, per target, what state should hold after the refresh.
	Records map[string][]state.SnapshotRecord
	// Backups is, per target, the backups that were listed on it.
	Backups map[string][]string
}

// Refresh lists every (backup, target) pair of the policy and compares it
// with state. It writes nothing; Save stores the result.
func (e *Env) Refresh(ctx context.Context) (*Refreshed, error) {
	recorded, err := e.Store.Snapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	inState := make(map[[3]string]state.SnapshotRecord)
	for _, r := range recorded {
		inState[[3]string{r.Backup, r.Target, r.ID}] = r
	}

	out := &Refreshed{Records: map[string][]state.SnapshotRecord{}, Backups: map[string][]string{}}
	now := time.Now().UTC()
	for _, b := range e.Policy.Backups {
		for _, tname := range b.To {
			t, err := e.Target(ctx, tname)
			if err != nil {
				return nil, err
			}
			listing, err := t.ListSnapshots(ctx, b.Name)
			if err != nil {
				return nil, fmt.Errorf("list snapshots of %s on %s: %w", b.Name, tname, err)
			}
			out.Backups[tname] = append(out.Backups[tname], b.Name)
			onTarget := make(map[string]bool, len(listing))
			for _, l := range listing {
				created, perr := planner.ParseSnapshotID(l.ID)
				if perr != nil {
					// Not a snapshot directory of ours; leave it alone.
					continue
				}
				onTarget[l.ID] = l.Manifest != nil
				if l.Manifest == nil {
					out.Observed.Snapshots = append(out.Observed.Snapshots, planner.Snapshot{
						Backup: b.Name, Target: tname, ID: l.ID, CreatedAt: created, Status: planner.StatusIncomplete,
					})
					continue
				}
				m := l.Manifest
				out.Observed.Snapshots = append(out.Observed.Snapshots, planner.Snapshot{
					Backup: b.Name, Target: tname, ID: l.ID, CreatedAt: m.CreatedAt, Status: planner.StatusComplete,
				})
				out.Records[tname] = append(out.Records[tname], state.SnapshotRecord{
					Backup: b.Name, Target: tname, ID: l.ID, CreatedAt: m.CreatedAt,
					Bytes: m.TotalSize(), Files: len(m.Files), Complete: true, RecordedAt: now,
				})
			}
			for key, r := range inState {
				if key[0] == b.Name && key[1] == tname && r.Complete && !onTarget[r.ID] {
					out.Observed.Snapshots = append(out.Observed.Snapshots, planner.Snapshot{
						Backup: b.Name, Target: tname, ID: r.ID, CreatedAt: r.CreatedAt, Status: planner.StatusMissing,
					})
				}
			}
		}
	}
	sortObserved(out.Observed.Snapshots)
	return out, nil
}

// Save replaces what state holds for the refreshed targets and backups.
func (e *Env) Save(ctx context.Context, r *Refreshed) error {
	names := make([]string, 0, len(r.Backups))
	for t := range r.Backups {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		if err := e.Store.ReplaceTarget(ctx, t, r.Backups[t], r.Records[t]); err != nil {
			return fmt.Errorf("save refresh of %s: %w", t, err)
		}
	}
	return nil
}

// ObservedFromState is the planner's view without asking the targets
// (plan --refresh=false): every snapshot state records as complete.
func ObservedFromState(ctx context.Context, st *state.Store) (planner.Observed, error) {
	recs, err := st.Snapshots(ctx)
	if err != nil {
		return planner.Observed{}, fmt.Errorf("read state: %w", err)
	}
	var obs planner.Observed
	for _, r := range recs {
		if !r.Complete {
			continue
		}
		obs.Snapshots = append(obs.Snapshots, planner.Snapshot{
			Backup: r.Backup, Target: r.Target, ID: r.ID, CreatedAt: r.CreatedAt, Status: planner.StatusComplete,
		})
	}
	sortObserved(obs.Snapshots)
	return obs, nil
}

func sortObserved(s []planner.Snapshot) {
	sort.Slice(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.Backup != b.Backup {
			return a.Backup < b.Backup
		}
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.ID < b.ID
	})
}
