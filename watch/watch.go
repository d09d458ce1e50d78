// Package watch is owui's long-running reconciler: it applies what comes
// due at the right time, reloads the policy when its file changes (keeping
// the last good policy when an edit is broken), and starts snapshots when a
// backup's data directory changes and then stays quiet for the trigger's
// debounce, no sooner than its min_interval after the newest snapshot.
//
// The package decides when; the caller's Runner does the apply, so watch
// never prints and holds no state of its own beyond timings.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/hcl/v2"

	"github.com/owui/owui/config"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/status"
)

// Runner applies policy p once. force maps backups to the reason for a
// change-triggered snapshot the schedule would not make yet.
type Runner func(ctx context.Context, p *config.Policy, force map[string]string) error

// Options are what Run needs from the world.
type Options struct {
	// PolicyPath is the policy file to watch.
	PolicyPath string
	// Load decodes the policy (config.LoadFile).
	Load func(path string) (*config.Policy, hcl.Diagnostics)
	// Run applies the policy.
	Run Runner
	// Newest returns, per [backup, target], the creation time of the newest
	// complete snapshot as state records it.
	Newest func(ctx context.Context) (map[[2]string]time.Time, error)
	// Reject reports the diagnostics of a broken policy edit.
	Reject func(hcl.Diagnostics)
	// Log receives one line per decision.
	Log *slog.Logger
	// Settle is how long the policy file must stay unchanged before it is
	// reloaded (editors write in several steps); default 300ms.
	Settle time.Duration
}

// Backoff bounds: after a failed run the next one waits MinBackoff,
// doubling up to MaxBackoff, so a broken target is retried without a storm.
const (
	MinBackoff = time.Minute
	MaxBackoff = time.Hour
)

// spinGuard is the pause after a successful run that left something
// still due (the planner and this package disagree, or the clock jumped).
const spinGuard = time.Minute

type runResult struct {
	err     error
	started time.Time
	forced  map[string]string
}

// watcher is Run's state.
type watcher struct {
	opts    Options
	policy  *config.Policy
	fs      *fsnotify.Watcher
	data    *dataWatch
	pending map[string]time.Time // backup → last relevant change not yet snapshotted
	// notBefore holds runs back after a failure (backoff) or a spin.
	notBefore time.Time
	backoff   time.Duration
	reloadAt  time.Time
	// newest caches Options.Newest: state changes only through runs.
	newest map[[2]string]time.Time
}

// Run watches until ctx ends. A run in progress when ctx ends is left to
// finish its cleanup (the Runner sees ctx cancelled) before Run returns nil.
func Run(ctx context.Context, opts Options) error {
	if opts.Settle == 0 {
		opts.Settle = 300 * time.Millisecond
	}
	p, diags := opts.Load(opts.PolicyPath)
	if diags.HasErrors() {
		return fmt.Errorf("load policy: %w", diags)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer fsw.Close()
	abs, err := filepath.Abs(opts.PolicyPath)
	if err != nil {
		return fmt.Errorf("watch policy: %w", err)
	}
	opts.PolicyPath = abs
	// The directory, not the file: editors replace a file by renaming a new
	// one over it, which ends a watch on the file itself.
	if err := fsw.Add(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("watch policy directory: %w", err)
	}
	w := &watcher{opts: opts, policy: p, fs: fsw, pending: map[string]time.Time{}}
	if err := w.readNewest(ctx); err != nil {
		return err
	}
	w.data = newDataWatch(fsw, opts.Log)
	w.data.set(p)
	opts.Log.Info("watching", "policy", abs, "backups", len(p.Backups), "change_triggers", len(w.data.roots))
	return w.loop(ctx)
}

func (w *watcher) loop(ctx context.Context) error {
	var running chan runResult
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if running == nil {
			wake := w.nextWake()
			if !w.reloadAt.IsZero() && w.reloadAt.Before(wake) {
				wake = w.reloadAt
			}
			resetTimer(timer, time.Until(wake))
		}
		select {
		case <-ctx.Done():
			if running != nil {
				w.opts.Log.Info("stopping: waiting for the run in progress to clean up")
				<-running
			}
			w.opts.Log.Info("stopped")
			return nil
		case ev, ok := <-w.fs.Events:
			if !ok {
				return errors.New("watch: the file watcher closed")
			}
			w.event(ev)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return errors.New("watch: the file watcher closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Changes were lost: count every trigger as changed.
				for _, r := range w.data.roots {
					for _, b := range r.backups {
						w.pending[b.Name] = time.Now()
					}
				}
			}
			w.opts.Log.Warn("file watcher", "error", err.Error())
		case res := <-running:
			running = nil
			w.finished(ctx, res)
		case <-timer.C:
			if running != nil {
				continue
			}
			now := time.Now()
			if !w.reloadAt.IsZero() && !now.Before(w.reloadAt) {
				w.reloadAt = time.Time{}
				w.reload()
				continue
			}
			scheduled, force := w.due(now)
			if (!scheduled && len(force) == 0) || now.Before(w.notBefore) {
				continue
			}
			running = make(chan runResult, 1)
			p := w.policy
			go func(ch chan runResult) {
				err := w.opts.Run(ctx, p, force)
				ch <- runResult{err: err, started: now, forced: force}
			}(running)
		}
	}
}

func resetTimer(t *time.Timer, d time.Duration) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(max(d, 0))
}

// event handles one file system event: a policy edit, or a change in a
// watched data directory.
func (w *watcher) event(ev fsnotify.Event) {
	if filepath.Clean(ev.Name) == w.opts.PolicyPath {
		if ev.Has(fsnotify.Write) || ev.Has(fsnotify.Create) || ev.Has(fsnotify.Rename) {
			w.reloadAt = time.Now().Add(w.opts.Settle)
		}
		return
	}
	for _, b := range w.data.changed(ev) {
		if _, ok := w.pending[b]; !ok {
			w.opts.Log.Debug("change seen", "backup", b, "path", ev.Name)
		}
		w.pending[b] = time.Now()
	}
}

// reload reads the policy again; a broken edit keeps the last good one.
func (w *watcher) reload() {
	p, diags := w.opts.Load(w.opts.PolicyPath)
	if diags.HasErrors() {
		w.opts.Log.Error("policy edit rejected; keeping the last good policy", "policy", w.opts.PolicyPath, "error", diags.Error())
		if w.opts.Reject != nil {
			w.opts.Reject(diags)
		}
		return
	}
	w.policy = p
	w.data.set(p)
	for b := range w.pending {
		if bk := p.Backup(b); bk == nil || bk.Trigger == nil || !bk.Trigger.OnChange {
			delete(w.pending, b)
		}
	}
	w.notBefore, w.backoff = time.Time{}, 0 // a fixed policy deserves a prompt try
	w.opts.Log.Info("policy reloaded", "policy", w.opts.PolicyPath, "backups", len(p.Backups), "change_triggers", len(w.data.roots))
}

// finished takes a run's result: backoff after a failure, pending changes
// cleared when their snapshot was made.
func (w *watcher) finished(ctx context.Context, res runResult) {
	now := time.Now()
	if err := w.readNewest(ctx); err != nil {
		res.err = errors.Join(res.err, err)
	}
	if res.err != nil {
		w.backoff = min(max(2*w.backoff, MinBackoff), MaxBackoff)
		w.notBefore = now.Add(w.backoff)
		w.opts.Log.Error("run failed; retrying later", "retry_in", w.backoff.String(), "error", res.err.Error())
		return
	}
	w.backoff = 0
	w.notBefore = time.Time{}
	for b := range res.forced {
		if t, ok := w.pending[b]; ok && t.Before(res.started) {
			delete(w.pending, b)
		}
	}
	if scheduled, _ := w.due(now); scheduled {
		w.notBefore = now.Add(spinGuard)
	}
}

func (w *watcher) readNewest(ctx context.Context) error {
	n, err := w.opts.Newest(ctx)
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	w.newest = n
	return nil
}

// due reports whether a scheduled snapshot is due at now, and which
// change-triggered backups are ready.
func (w *watcher) due(now time.Time) (bool, map[string]string) {
	newest := w.newest
	scheduled := false
	force := map[string]string{}
	for _, b := range w.policy.Backups {
		if !now.Before(w.scheduledAt(b, newest, now)) {
			scheduled = true
		}
		if at, ok := w.triggerAt(b, newest); ok && !now.Before(at) {
			force[b.Name] = fmt.Sprintf("change trigger: the data directory changed and has been quiet for %s (debounce)",
				planner.FormatInterval(b.Trigger.Debounce))
		}
	}
	return scheduled, force
}

// nextWake is the earliest time something comes due.
func (w *watcher) nextWake() time.Time {
	newest := w.newest
	now := time.Now()
	wake := now.Add(24 * time.Hour)
	for _, b := range w.policy.Backups {
		wake = minTime(wake, w.scheduledAt(b, newest, now))
		if at, ok := w.triggerAt(b, newest); ok {
			wake = minTime(wake, at)
		}
	}
	if wake.Before(w.notBefore) {
		wake = w.notBefore
	}
	return wake
}

// scheduledAt is the earliest time any target of b comes due.
func (w *watcher) scheduledAt(b *config.Backup, newest map[[2]string]time.Time, now time.Time) time.Time {
	loc := w.policy.Location
	if loc == nil {
		loc = time.UTC
	}
	var at time.Time
	for _, t := range b.To {
		d := status.NextDue(b, newest[[2]string{b.Name, t}], loc, now)
		if d.IsZero() {
			continue
		}
		if at.IsZero() || d.Before(at) {
			at = d
		}
	}
	if at.IsZero() {
		return now.Add(24 * time.Hour)
	}
	return at
}

// triggerAt is when b's pending change may be snapshotted: quiet for the
// debounce, and min_interval after b's newest snapshot on any target.
func (w *watcher) triggerAt(b *config.Backup, newest map[[2]string]time.Time) (time.Time, bool) {
	changed, ok := w.pending[b.Name]
	if !ok || b.Trigger == nil || !b.Trigger.OnChange {
		return time.Time{}, false
	}
	at := changed.Add(b.Trigger.Debounce)
	var latest time.Time
	for _, t := range b.To {
		if n := newest[[2]string{b.Name, t}]; n.After(latest) {
			latest = n
		}
	}
	if !latest.IsZero() && latest.Add(b.Trigger.MinInterval).After(at) {
		at = latest.Add(b.Trigger.MinInterval)
	}
	return at, true
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
