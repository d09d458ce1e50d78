package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/metrics"
	"github.com/owui/owui/notify"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
	"github.com/owui/owui/status"
)

// applyJob is one apply, as owui apply and owui watch ask for it.
type applyJob struct {
	// PlanAt is the time the plan is made as of.
	PlanAt time.Time
	// Saved is the saved plan being applied, or nil.
	Saved *savedPlan
	// Confirm asks for "yes" before applying.
	Confirm bool
	// ShowPlan prints the plan before applying (watch logs instead).
	ShowPlan bool
	// Force maps backups to the reason for a snapshot the schedule would not
	// make yet (watch's change triggers).
	Force map[string]string
}

// notifyTimeout bounds the notifications and pings after a run, so that a
// hung service cannot hold the lock for long.
const notifyTimeout = 30 * time.Second

// applyOnce runs one apply: lock, run record, refresh, plan, apply; then,
// whatever happened, the run's actions go into state, the notifications and
// healthcheck pings go out, and the metrics file is rewritten. It returns
// the executor's result (nil when the run failed before applying).
func (ss *session) applyOnce(ctx context.Context, g *globalOptions, s streams, job applyJob) (res *executor.Result, err error) {
	sender := newSender(ss.policy)
	unlock, err := ss.lock(ctx, s, "apply")
	if err != nil {
		return nil, err // another run is at work: not this run's failure
	}
	defer func() { err = errors.Join(err, unlock()) }()
	ss.env.ClearStaging()
	started := time.Now().UTC()
	if sender.HasPings() {
		if perr := sender.Ping(ctx, notify.PingStart, ""); perr != nil {
			ss.log.Warn("healthcheck ping failed", "error", perr.Error())
		}
	}
	runID, err := ss.store.StartRun(ctx, "apply", started)
	if err != nil {
		return nil, err
	}
	defer func() {
		err = errors.Join(err, ss.finishRun(context.WithoutCancel(ctx), g, sender, runID, started, res, err))
	}()

	refreshed, err := ss.env.Refresh(ctx)
	if err != nil {
		return nil, err
	}
	if err := ss.env.Save(ctx, refreshed); err != nil {
		return nil, err
	}
	obs := refreshed.Observed
	reachable, unreached := ss.withoutUnreachable(refreshed.Unreachable)
	plan := makePlan(reachable, obs, job.PlanAt, job.Force)
	plan = ss.measureWindows(ctx, &obs, plan, func(obs planner.Observed) planner.Plan { return makePlan(reachable, obs, job.PlanAt, job.Force) })
	if job.Saved != nil {
		if err := checkSavedPlan(g, job.Saved, plan, obs); err != nil {
			return nil, err
		}
	}
	if job.ShowPlan {
		if err := showPlan(g, s, plan); err != nil {
			return nil, err
		}
	} else {
		for _, a := range plan.Actions {
			ss.log.Info("plan", "action", string(a.Kind), "backup", a.Backup, "target", a.Target, "reason", a.Reason)
		}
	}
	if len(plan.Actions) == 0 {
		res = &executor.Result{Outcomes: unreached}
		return res, res.Err()
	}
	if job.Confirm {
		if err := confirm(s); err != nil {
			return nil, err
		}
	}
	stamp, err := g.now()
	if err != nil {
		return nil, err
	}
	res = ss.env.Apply(ctx, plan, obs, stamp)
	res.Outcomes = append(unreached, res.Outcomes...)
	logOutcomes(ss.log, res)
	if job.ShowPlan {
		summary := s.Out
		if g.JSON {
			summary = s.Err // keep standard output one JSON document
		}
		printSummary(summary, res, ss.env.BytesSent())
	}
	if err := res.Err(); err != nil {
		return res, err
	}
	// An interrupted apply may report no action error; it still failed.
	return res, ctx.Err()
}

// withoutUnreachable returns the policy without the targets that could not
// be listed, and one failed outcome per backup on each of them: one broken
// target does not stop the backups to the others.
func (ss *session) withoutUnreachable(bad map[string]error) (*config.Policy, []executor.Outcome) {
	if len(bad) == 0 {
		return ss.policy, nil
	}
	for t, err := range bad {
		ss.log.Error("target unreachable; this run goes on without it", "target", t, "error", err.Error())
	}
	cp := *ss.policy
	cp.Backups = nil
	var unreached []executor.Outcome
	for _, b := range ss.policy.Backups {
		nb := *b
		nb.To = nil
		for _, t := range b.To {
			if err, ok := bad[t]; ok {
				unreached = append(unreached, executor.Outcome{
					Action: planner.Action{Kind: notify.KindRefresh, Backup: b.Name, Target: t, Reason: "list what the target holds"},
					Err:    err,
				})
				continue
			}
			nb.To = append(nb.To, t)
		}
		if len(nb.To) > 0 {
			cp.Backups = append(cp.Backups, &nb)
		}
	}
	return &cp, unreached
}

// makePlan is planner.Make, plus a snapshot for each forced backup that
// the schedule does not make due yet. Those come from a copy of the policy
// in which the backup is due at once, so that retention counts the new
// snapshot exactly as it would a scheduled one.
func makePlan(p *config.Policy, obs planner.Observed, now time.Time, force map[string]string) planner.Plan {
	plan := planner.Make(p, obs, now)
	if len(force) == 0 {
		return plan
	}
	due := map[[2]string]bool{}
	for _, a := range plan.Actions {
		if a.Kind == planner.KindSnapshot {
			due[[2]string{a.Backup, a.Target}] = true
		}
	}
	cp := *p
	cp.Backups = make([]*config.Backup, len(p.Backups))
	for i, b := range p.Backups {
		if _, ok := force[b.Name]; ok {
			fb := *b
			fb.Every, fb.Schedule, fb.Cron = time.Nanosecond, "", nil
			b = &fb
		}
		cp.Backups[i] = b
	}
	forced := planner.Make(&cp, obs, now)
	for i, a := range forced.Actions {
		if a.Kind == planner.KindSnapshot && !due[[2]string{a.Backup, a.Target}] {
			forced.Actions[i].Reason = force[a.Backup]
		}
	}
	// The scheduled reasons stay for snapshots that were due anyway.
	for i, a := range forced.Actions {
		if a.Kind != planner.KindSnapshot || !due[[2]string{a.Backup, a.Target}] {
			continue
		}
		for _, orig := range plan.Actions {
			if orig.Kind == a.Kind && orig.Backup == a.Backup && orig.Target == a.Target {
				forced.Actions[i].Reason = orig.Reason
			}
		}
	}
	return forced
}

// finishRun records how the run ended and tells whoever asked. Its own
// failures (state aside) are logged, not returned: a notification service
// being down must not turn a good backup into a failed run.
func (ss *session) finishRun(ctx context.Context, g *globalOptions, sender *notify.Sender, runID int64, started time.Time, res *executor.Result, runErr error) error {
	ended := time.Now().UTC()
	var outcomes []executor.Outcome
	if res != nil {
		outcomes = res.Outcomes
	}
	result, text := "ok", ""
	if runErr != nil {
		result, text = "error", runErr.Error()
	}
	var errs []error
	if err := ss.store.RecordActions(ctx, runID, actionRecords(outcomes)); err != nil {
		errs = append(errs, err)
	}
	if err := ss.store.EndRun(ctx, runID, ended, result, text); err != nil {
		errs = append(errs, err)
	}
	rows, err := ss.statusRows(ctx, ended)
	if err != nil {
		ss.log.Warn("cannot compute status after the run", "error", err.Error())
	}

	nctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	host, _ := os.Hostname()
	for _, ev := range notify.Events(notify.Run{Host: host, Ended: ended, Outcomes: outcomes, Err: runErr, Status: rows}) {
		if !sender.Wants(ev.Kind) {
			continue
		}
		if err := sender.Send(nctx, ev); err != nil {
			ss.log.Error("notification failed", "event", ev.Kind, "error", err.Error())
		} else {
			ss.log.Info("notification sent", "event", ev.Kind, "items", len(ev.Items))
		}
	}
	if sender.HasPings() {
		stage, body := notify.PingSuccess, fmt.Sprintf("owui apply ok: %d actions", len(outcomes))
		if runErr != nil {
			stage, body = notify.PingFail, runErr.Error()
		}
		if err := sender.Ping(nctx, stage, body); err != nil {
			ss.log.Error("healthcheck ping failed", "error", err.Error())
		}
	}
	if g.MetricsFile != "" {
		run := metrics.Run{Command: "apply", Started: started, Ended: ended, OK: runErr == nil, BytesUploaded: ss.env.BytesSent()}
		if last, err := ss.store.LastSuccess(ctx, "apply"); err == nil && last != nil {
			run.LastSuccess = last.Ended
		}
		if err := metrics.WriteFile(g.MetricsFile, metrics.Render(run, rows, ended)); err != nil {
			ss.log.Error("cannot write the metrics file", "path", g.MetricsFile, "error", err.Error())
		}
	}
	return errors.Join(errs...)
}

// statusRows is the status of every backup and target as state has it.
func (ss *session) statusRows(ctx context.Context, now time.Time) ([]status.Row, error) {
	snaps, err := ss.store.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	last, err := ss.store.LastActions(ctx, string(planner.KindSnapshot))
	if err != nil {
		return nil, err
	}
	// A target that could not be listed had no snapshot attempt; its
	// failure is the pair's last result all the same.
	unreached, err := ss.store.LastActions(ctx, string(notify.KindRefresh))
	if err != nil {
		return nil, err
	}
	for k, a := range unreached {
		if cur, ok := last[k]; !ok || a.RunID > cur.RunID {
			last[k] = a
		}
	}
	vers, err := ss.store.Verifications(ctx)
	if err != nil {
		return nil, err
	}
	rows := status.Compute(ss.policy, snaps, last, now)
	status.AddVerified(rows, snaps, vers)
	return rows, nil
}

func actionRecords(outcomes []executor.Outcome) []state.ActionRecord {
	recs := make([]state.ActionRecord, 0, len(outcomes))
	for _, o := range outcomes {
		a := o.Action
		r := state.ActionRecord{Action: string(a.Kind), Backup: a.Backup, Target: a.Target, Snapshot: a.Snapshot,
			Result: state.ActionOK, BytesUploaded: o.BytesUploaded}
		if a.Kind == planner.KindSnapshot || (a.Kind == planner.KindVerify && a.Snapshot == "") {
			r.Snapshot = o.Snapshot
		}
		switch {
		case o.Err != nil:
			r.Result, r.Error = state.ActionError, o.Err.Error()
		case o.Skipped != "":
			r.Result, r.Error = state.ActionSkipped, o.Skipped
		}
		recs = append(recs, r)
	}
	return recs
}

// newSender returns the notification sender of p, hiding its notify URLs
// and crypt secrets from everything it sends.
func newSender(p *config.Policy) *notify.Sender {
	var extra []string
	for _, t := range p.Targets {
		if t.Crypt != nil {
			extra = append(extra, t.Crypt.Password, t.Crypt.Salt)
		}
	}
	extra = slices.DeleteFunc(extra, func(s string) bool { return len(s) < 4 })
	s := notify.NewSender(p, extra...)
	s.UserAgent = "owui/" + version
	return s
}
