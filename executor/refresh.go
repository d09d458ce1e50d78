package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/owui/owui/executor/target"
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
	// Unreachable holds the targets that could not be opened or listed, with
	// why. Their snapshots are in neither Observed nor Records, and Save
	// leaves what state holds for them alone.
	Unreachable map[string]error
}

// Err joins the errors of the unreachable targets, sorted by target.
func (r *Refreshed) Err() error {
	names := make([]string, 0, len(r.Unreachable))
	for t := range r.Unreachable {
		names = append(names, t)
	}
	sort.Strings(names)
	errs := make([]error, 0, len(names))
	for _, t := range names {
		errs = append(errs, r.Unreachable[t])
	}
	return errors.Join(errs...)
}

// Refresh lists every (backup, target) pair of the policy and compares it
// with state. A target that cannot be opened or listed goes into
// Unreachable and the others are still listed; only a cancelled context or
// unreadable state is an error. It writes nothing; Save stores the result.
func (e *Env) Refresh(ctx context.Context) (*Refreshed, error) {
	recorded, err := e.Store.Snapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	inState := make(map[[3]string]state.SnapshotRecord)
	for _, r := range recorded {
		inState[[3]string{r.Backup, r.Target, r.ID}] = r
	}
	vers, err := e.Store.Verifications(ctx)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}

	out := &Refreshed{Records: map[string][]state.SnapshotRecord{}, Backups: map[string][]string{}, Unreachable: map[string]error{}}
	now := time.Now().UTC()
	var listings []listed
	for _, b := range e.Policy.Backups {
		for _, tname := range b.To {
			if _, bad := out.Unreachable[tname]; bad {
				continue
			}
			t, err := e.Target(ctx, tname)
			if err == nil {
				var l []target.Listing
				if l, err = t.ListSnapshotsKnown(ctx, b.Name, knownIn(inState, b.Name, tname)); err == nil {
					listings = append(listings, listed{b.Name, tname, l})
					continue
				}
				err = fmt.Errorf("list snapshots of %s on %s: %w", b.Name, tname, err)
			}
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			out.Unreachable[tname] = err
		}
	}
	for _, l := range listings {
		if _, bad := out.Unreachable[l.target]; bad {
			// Listed for one backup, failed for another: state for this
			// target is left as it was.
			continue
		}
		out.add(l, inState, now)
	}
	addVerifications(out.Observed.Snapshots, vers)
	sortObserved(out.Observed.Snapshots)
	return out, nil
}

// knownIn recognises the manifests of backup on tname that state recorded
// as read with the same object size and modification time: those are not
// read again. A manifest rewritten on the target almost always changes
// size or time, and is then read, hashed and compared (drift); verify
// --read-data reads every one.
func knownIn(inState map[[3]string]state.SnapshotRecord, backup, tname string) target.KnownFunc {
	return func(id string, size int64, mod time.Time) *target.Summary {
		r, ok := inState[[3]string{backup, tname, id}]
		if !ok || !r.Complete || r.ManifestSHA256 == "" || r.ManifestSize <= 0 || r.ManifestModTimeNs == 0 ||
			r.ManifestSize != size || r.ManifestModTimeNs != unixNano(mod) {
			return nil
		}
		return &target.Summary{CreatedAt: r.CreatedAt, Bytes: r.Bytes, Files: r.Files, SHA256: r.ManifestSHA256, Size: size, ModTime: mod}
	}
}

// unixNano is t in Unix ns, or 0 (not known) for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// listed is what one target holds of one backup.
type listed struct {
	backup, target string
	listing        []target.Listing
}

// add merges one listing into the refresh, and marks what state records as
// complete but the target no longer holds.
func (out *Refreshed) add(l listed, inState map[[3]string]state.SnapshotRecord, now time.Time) {
	out.Backups[l.target] = append(out.Backups[l.target], l.backup)
	recordedAny := false // state knows snapshots of the pair: new ones are drift
	for key, r := range inState {
		if key[0] == l.backup && key[1] == l.target && r.Complete {
			recordedAny = true
			break
		}
	}
	onTarget := make(map[string]bool, len(l.listing))
	for _, item := range l.listing {
		created, err := planner.ParseSnapshotID(item.ID)
		if err != nil {
			continue // not a snapshot directory of ours; leave it alone
		}
		onTarget[item.ID] = true
		snap := planner.Snapshot{Backup: l.backup, Target: l.target, ID: item.ID, CreatedAt: created, Status: planner.StatusIncomplete}
		if m := item.Manifest; m != nil {
			snap.CreatedAt, snap.Status, snap.ManifestSHA256 = m.CreatedAt, planner.StatusComplete, m.SHA256
			rec, known := inState[[3]string{l.backup, l.target, item.ID}]
			switch {
			case known && rec.Complete && rec.ManifestSHA256 != "" && rec.ManifestSHA256 != m.SHA256:
				snap.Drift = planner.DriftChanged
			case (!known || !rec.Complete) && recordedAny:
				snap.Drift = planner.DriftAdded
			}
			out.Records[l.target] = append(out.Records[l.target], state.SnapshotRecord{
				Backup: l.backup, Target: l.target, ID: item.ID, CreatedAt: m.CreatedAt,
				Bytes: m.Bytes, Files: m.Files, Complete: true, RecordedAt: now,
				ManifestSHA256: m.SHA256, ManifestSize: m.Size, ManifestModTimeNs: unixNano(m.ModTime),
			})
		}
		out.Observed.Snapshots = append(out.Observed.Snapshots, snap)
	}
	for key, r := range inState {
		if key[0] == l.backup && key[1] == l.target && r.Complete && !onTarget[r.ID] {
			out.Observed.Snapshots = append(out.Observed.Snapshots, planner.Snapshot{
				Backup: l.backup, Target: l.target, ID: r.ID, CreatedAt: r.CreatedAt, Status: planner.StatusMissing,
			})
		}
	}
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
	vers, err := st.Verifications(ctx)
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
			ManifestSHA256: r.ManifestSHA256,
		})
	}
	addVerifications(obs.Snapshots, vers)
	sortObserved(obs.Snapshots)
	return obs, nil
}

// addVerifications fills in what state's verifications (oldest first) say
// of each complete snapshot. A verification speaks only for the manifest it
// checked: after the manifest changed on the target, the snapshot counts as
// never verified until it is verified again. Records made before owui kept
// manifest checksums (empty on either side) still match.
func addVerifications(snaps []planner.Snapshot, vers []state.VerificationRecord) {
	index := make(map[[3]string]int, len(snaps))
	for i, s := range snaps {
		if s.Status == planner.StatusComplete {
			index[[3]string{s.Backup, s.Target, s.ID}] = i
		}
	}
	for _, v := range vers {
		i, ok := index[[3]string{v.Backup, v.Target, v.Snapshot}]
		if !ok {
			continue
		}
		s := &snaps[i]
		if v.ManifestSHA256 != "" && s.ManifestSHA256 != "" && v.ManifestSHA256 != s.ManifestSHA256 {
			continue
		}
		s.VerifyFailed = !v.OK
		if v.OK {
			s.VerifiedAt = v.VerifiedAt
			if v.ReadData {
				s.ReadDataVerifiedAt = v.VerifiedAt
			}
		}
	}
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
