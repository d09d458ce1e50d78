package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rclone/rclone/fs"
	rclonesync "github.com/rclone/rclone/fs/sync"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/internal/s3test"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/sample"
)

// The owui child process of a crash test kills itself at a step of its
// apply named by these variables (see killSeam).
const (
	// envKillAt is the event at which the child sends itself SIGKILL.
	envKillAt = "OWUI_TEST_KILL_AT"
	// envKillDelay, a Go duration, is how long after that event the kill
	// comes; the apply goes on meanwhile.
	envKillDelay = "OWUI_TEST_KILL_DELAY"
	// envStallAt is an event at which the goroutine that reports it stops
	// for good, so that the kill finds the rest of the apply further on
	// (one target's upload held back while the other writes its manifest).
	envStallAt = "OWUI_TEST_STALL_AT"
)

// event is a step of an apply as the executor reports it through its
// hooks. Its text form is one of:
//
//	log:PATTERN:N        the Nth step logged whose text holds the
//	                     '*'-separated parts of PATTERN, in order
//	progress:TARGET:N    the Nth file sent to TARGET (uploaded or re-used)
//	progress-done:TARGET every file sent to TARGET, before its manifest
type event struct {
	kind, arg string
	n         int
}

func parseEvent(s string) (event, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return event{}, fmt.Errorf("event %q: no kind", s)
	}
	if kind == "progress-done" {
		return event{kind: kind, arg: rest, n: 1}, nil
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 || (kind != "log" && kind != "progress") {
		return event{}, fmt.Errorf("event %q: want log:PATTERN:N, progress:TARGET:N or progress-done:TARGET", s)
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil || n < 1 {
		return event{}, fmt.Errorf("event %q: bad count", s)
	}
	return event{kind: kind, arg: rest[:i], n: n}, nil
}

// is reports whether a hook call is an occurrence of e (not yet counted).
func (e event) is(kind, text string, done, total int64) bool {
	switch {
	case e.kind == "log" && kind == "log":
		for _, part := range strings.Split(e.arg, "*") {
			i := strings.Index(text, part)
			if i < 0 {
				return false
			}
			text = text[i+len(part):]
		}
		return true
	case e.kind == "progress" && kind == "progress":
		return text == e.arg
	case e.kind == "progress-done" && kind == "progress":
		return text == e.arg && done == total
	}
	return false
}

// counter counts the occurrences of one event.
type counter struct {
	ev   event
	seen int
}

// hit counts a hook call and reports whether it is the event's Nth.
func (c *counter) hit(kind, text string, done, total int64) bool {
	if c == nil || !c.ev.is(kind, text, done, total) {
		return false
	}
	c.seen++
	return c.seen == c.ev.n
}

// killHooks passes every report on, then kills the process at one event
// and stalls at another.
type killHooks struct {
	executor.Hooks
	delay       time.Duration
	mu          sync.Mutex
	kill, stall *counter
}

// killSeam reads the crash test's variables and returns the testHooks that
// carries them out.
func killSeam() (func(executor.Hooks) executor.Hooks, error) {
	kill, err := parseEvent(os.Getenv(envKillAt))
	if err != nil {
		return nil, err
	}
	k := &killHooks{kill: &counter{ev: kill}}
	if s := os.Getenv(envStallAt); s != "" {
		ev, err := parseEvent(s)
		if err != nil {
			return nil, err
		}
		k.stall = &counter{ev: ev}
	}
	if s := os.Getenv(envKillDelay); s != "" {
		if k.delay, err = time.ParseDuration(s); err != nil {
			return nil, fmt.Errorf("%s: %w", envKillDelay, err)
		}
	}
	return func(h executor.Hooks) executor.Hooks { k.Hooks = h; return k }, nil
}

// Logf implements executor.Hooks.
func (k *killHooks) Logf(format string, args ...any) {
	k.Hooks.Logf(format, args...)
	k.at("log", fmt.Sprintf(format, args...), 0, 0)
}

// Progress implements executor.Hooks.
func (k *killHooks) Progress(backup, target string, done, total int64) {
	k.Hooks.Progress(backup, target, done, total)
	k.at("progress", target, done, total)
}

func (k *killHooks) at(kind, text string, done, total int64) {
	k.mu.Lock()
	kill, stall := k.kill.hit(kind, text, done, total), k.stall.hit(kind, text, done, total)
	k.mu.Unlock()
	if kill {
		if k.delay == 0 {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		time.AfterFunc(k.delay, func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) })
	}
	if stall {
		select {}
	}
}

// kill is one apply killed by the crash test.
type kill struct {
	at, stall string
	// delay is how long after at the kill comes; the apply may finish
	// first, so such a kill need not hit.
	delay time.Duration
}

// timed is a kill that comes a seeded random delay, up to upTo, after at.
func timed(at string, seed uint64, upTo time.Duration) kill {
	r := rand.New(rand.NewPCG(seed, 0x6f777569))
	return kill{at: at, delay: time.Duration(r.Int64N(int64(upTo)))}
}

// crashCase is a run of killed applies after some history, then an apply
// left to finish.
type crashCase struct {
	// history is how many daily snapshots exist before the first kill.
	history int
	// keepLast is the backup's keep { last = N }.
	keepLast int
	kills    []kill
	// sameSecond runs every apply of the case at the same --now, so that
	// leftovers carry the id the next snapshot takes.
	sameSecond bool
}

// Event patterns of the kill points, as the executor logs its steps.
const (
	evCapturing    = "log:capturing:1"
	evCaptured     = "log:local capture done:1"
	evHashing      = "log:hashing:1"
	evLocalDone    = "progress-done:local"
	evS3Done       = "progress-done:s3"
	evLocalMade    = "log:→ local: snapshot * complete:1"
	evS3Made       = "log:→ s3: snapshot * complete:1"
	evBothMade     = "log:snapshot * complete:2"
	evFirstRepair  = "log:removed incomplete snapshot:1"
	evFirstPrune   = "log:pruned:1"
	evLocalPruned  = "log:pruned:3"
	evFourthPruned = "log:pruned:4"
	evFifthPruned  = "log:pruned:5"
)

func sent(target string, n int) string { return fmt.Sprintf("progress:%s:%d", target, n) }

// crashParallel is how many crash cases run at once.
const crashParallel = 6

// childTimeout bounds each owui process of a crash case.
const childTimeout = 2 * time.Minute

// crashCases are the kill points, by where they hit. The backup has two
// targets, a local directory and S3, sent to at once; the sample instance
// sends 31 files to each.
var crashCases = map[string]crashCase{
	// Staging: nothing is on a target yet.
	"staging/before-capture":      {kills: []kill{{at: evCapturing}}},
	"staging/after-local-capture": {kills: []kill{{at: evCaptured}}},
	"staging/while-hashing":       {kills: []kill{{at: evHashing}}},
	"staging/while-capturing":     {kills: []kill{timed(evCapturing, 1, 20*time.Millisecond)}},
	// Mid-upload, on one target or on both.
	"upload/local-first-file": {kills: []kill{{at: sent("local", 1)}}},
	"upload/s3-first-file":    {kills: []kill{{at: sent("s3", 1)}}},
	"upload/local-20th-file":  {kills: []kill{{at: sent("local", 20)}}, sameSecond: true},
	"upload/s3-20th-file":     {kills: []kill{{at: sent("s3", 20)}}},
	"upload/both-midway":      {kills: []kill{{at: sent("s3", 30), stall: sent("local", 10)}}},
	"upload/timed":            {kills: []kill{timed(sent("s3", 1), 2, 100*time.Millisecond)}},
	// Between the last file and the manifest.
	"before-manifest/local": {kills: []kill{{at: evLocalDone}}},
	"before-manifest/s3":    {kills: []kill{{at: evS3Done}}},
	"before-manifest/both":  {kills: []kill{{at: evS3Done, stall: evLocalDone}}, sameSecond: true},
	"within-manifest/s3":    {kills: []kill{timed(evS3Done, 3, 5*time.Millisecond)}},
	// One target's manifest written, the other's not.
	"between-manifests/local-first": {kills: []kill{{at: evLocalMade, stall: evS3Done}}},
	"between-manifests/s3-first":    {kills: []kill{{at: evS3Made, stall: evLocalDone}}},
	"after-manifests":               {kills: []kill{{at: evBothMade}}},
	// Incremental: files re-used by hard link (local) and server-side copy (S3).
	"incremental/local-20th-file": {history: 1, keepLast: 3, kills: []kill{{at: sent("local", 20)}}},
	"incremental/s3-20th-file":    {history: 1, keepLast: 3, kills: []kill{{at: sent("s3", 20)}}},
	"incremental/before-manifest": {history: 1, keepLast: 3, kills: []kill{{at: evS3Done, stall: evLocalDone}}},
	// Mid-prune: three old snapshots to prune on each target, local first.
	"prune/before-first": {history: 3, keepLast: 1, kills: []kill{{at: evBothMade}}},
	"prune/after-first":  {history: 3, keepLast: 1, kills: []kill{{at: evFirstPrune}}},
	"prune/after-local":  {history: 3, keepLast: 1, kills: []kill{{at: evLocalPruned}}},
	"prune/after-fourth": {history: 3, keepLast: 1, kills: []kill{{at: evFourthPruned}}},
	"prune/after-fifth":  {history: 3, keepLast: 1, kills: []kill{{at: evFifthPruned}}},
	// Within a delete, local (a few milliseconds each) or on S3 (a few
	// hundred): timed kills, the first run's then its successors'.
	"prune/within-second": {history: 3, keepLast: 1, kills: []kill{timed(evFirstPrune, 4, 15*time.Millisecond)}},
	"prune/within-s3":     {history: 3, keepLast: 1, kills: []kill{timed(evLocalPruned, 5, 300*time.Millisecond)}},
	"prune/within-deletes-chained": {history: 3, keepLast: 1, kills: []kill{
		timed(evFirstPrune, 9, 15*time.Millisecond), timed(evFirstPrune, 10, 300*time.Millisecond), timed(evFirstPrune, 11, 300*time.Millisecond)}},
	"prune/killed-thrice":  {history: 3, keepLast: 1, kills: []kill{{at: evFirstPrune}, {at: evFirstPrune}, {at: evFirstPrune}}},
	"prune/timed-anywhere": {history: 2, keepLast: 1, kills: []kill{timed(evCapturing, 6, 600*time.Millisecond)}},
	// Repairing a killed run's leftovers, killed in turn.
	"repair/after-local": {kills: []kill{
		{at: sent("s3", 15), stall: sent("local", 15)}, {at: evFirstRepair}}},
	"repair/within-s3": {kills: []kill{
		{at: sent("s3", 15), stall: sent("local", 15)}, timed(evFirstRepair, 7, 150*time.Millisecond)}},
	"repair/staging-leftovers": {kills: []kill{{at: evHashing}, {at: evCapturing}}},
	"repair/killed-twice": {kills: []kill{
		{at: evS3Done, stall: evLocalDone}, {at: evFirstRepair}, {at: evFirstRepair}}},
	"repair/timed-anywhere": {history: 1, keepLast: 1, kills: []kill{
		{at: sent("s3", 25), stall: sent("local", 5)}, timed(evCapturing, 8, 600*time.Millisecond)}},
}

// TestCrashKilledApply kills owui apply with SIGKILL at each kill point of
// crashCases, against a policy with a local and an S3 target. After every
// kill: only snapshots whose manifest is on the target are listed, each of
// them restores to what its manifest says, plan repairs every incomplete
// one and retention does not count it, and nothing complete was lost. Then
// an apply left alone finishes the job and leaves no staging, temporary or
// incomplete files.
func TestCrashKilledApply(t *testing.T) {
	start := time.Now()
	inst := filepath.Join(t.TempDir(), "instance")
	if _, err := sample.Generate(inst, sample.Options{Scale: 0.005, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	suite := &crashSuite{inst: inst}
	suite.history = newCrashWorld(t, suite, "history")
	suite.history.makeHistory(t, 3)
	var mu sync.Mutex
	var ran, hit, missed int
	names := make([]string, 0, len(crashCases))
	for name := range crashCases {
		names = append(names, name)
	}
	slices.Sort(names)
	// Most of an apply's time is waiting (leases settling, files changing
	// during a copy), so cases run several at once, more than -parallel
	// would allow on a small machine.
	sem := make(chan struct{}, crashParallel)
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(name, func(t *testing.T) {
				h, m := newCrashWorld(t, suite, name).run(t, crashCases[name])
				mu.Lock()
				ran, hit, missed = ran+1, hit+h, missed+m
				mu.Unlock()
			})
		})
	}
	wg.Wait()
	t.Logf("%d kill points hit, %d timed kills came after the apply ended, in %s", hit, missed, time.Since(start).Round(time.Millisecond))
	if ran == len(crashCases) && hit < 30 {
		t.Errorf("only %d kill points hit, want at least 30", hit)
	}
}

// crashSuite is what the crash cases share: the instance they back up
// (owui never writes to it), the snapshots they copy as their history, and
// the snapshots restored so far.
type crashSuite struct {
	inst    string
	history *crashWorld
	// restored holds target/manifest checksum of the snapshots owui
	// restore gave back intact. A case that finds the same manifest, and
	// the files it lists, on its own prefix of the same target does not
	// restore that snapshot again: the same bytes take the same path.
	restored sync.Map
}

// crashWorld is one case's policy, state and targets. Each case has an S3
// server of its own, so that it can wait for the requests a killed apply
// left in flight without waiting for the other cases'.
type crashWorld struct {
	suite       *crashSuite
	dir, policy string
	srv         *s3test.Server
	// s3 is the S3 target's remote.
	s3 string
	// roots maps each target to the directory that holds its bytes: the
	// local target itself, or the S3 server's directory for the prefix.
	roots   map[string]string
	base    time.Time
	outputs []string
}

func newCrashWorld(t *testing.T, suite *crashSuite, name string) *crashWorld {
	dir := t.TempDir()
	prefix := strings.ReplaceAll(name, "/", "-")
	srv := s3test.StartServer(t)
	return &crashWorld{
		suite: suite, dir: dir, srv: srv, s3: srv.Remote + "/" + prefix,
		roots: map[string]string{
			"local": filepath.Join(dir, "backups"),
			"s3":    filepath.Join(srv.Dir, s3test.Bucket, prefix),
		},
		base: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC),
	}
}

// writePolicy writes the case's policy, keeping the last keepLast
// snapshots (all of them when 0).
func (cw *crashWorld) writePolicy(t *testing.T, keepLast int) {
	keep := ""
	if keepLast > 0 {
		keep = fmt.Sprintf("keep {\n    last = %d\n  }", keepLast)
	}
	cw.policy = writePolicy(t, cw.dir, fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "local" {
  remote = %q
}
target "s3" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.local, target.s3]
  every    = "24h"
  %s
}
`, cw.suite.inst, cw.roots["local"], cw.s3, keep))
}

// makeHistory makes n daily snapshots, one a day up to the day before
// base, for the cases to copy.
func (cw *crashWorld) makeHistory(t *testing.T, n int) {
	cw.writePolicy(t, 0)
	for day := range n {
		now := cw.base.AddDate(0, 0, day-n).Format(time.RFC3339)
		if code, out, errs := cw.owui(t, "apply", "--auto-approve", "-f", cw.policy, "--now", now); code != 0 {
			t.Fatalf("history apply at %s: exit %d\n%s%s", now, code, out, errs)
		}
	}
}

// copyHistory copies the newest n snapshots of history to the case's
// targets, as if its own applies had made them (the manifests are the same
// on both targets); its state is rebuilt from them by the first refresh.
func (cw *crashWorld) copyHistory(t *testing.T, n int) {
	history := cw.suite.history
	ids := completeIDs(history.inspect(t)["local"])
	if len(ids) < n {
		t.Fatalf("history has %d snapshots, want %d", len(ids), n)
	}
	ctx := t.Context()
	for _, id := range ids[len(ids)-n:] {
		rel := filepath.Join("daily", id)
		src := filepath.Join(history.roots["local"], rel)
		if err := copyTree(src, filepath.Join(cw.roots["local"], rel)); err != nil {
			t.Fatal(err)
		}
		from, err := fs.NewFs(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		dst, err := fs.NewFs(ctx, cw.s3+"/daily/"+id)
		if err != nil {
			t.Fatal(err)
		}
		if err := rclonesync.CopyDir(ctx, dst, from, false); err != nil {
			t.Fatalf("copy history snapshot %s on S3: %v", id, err)
		}
	}
}

// copyTree copies the files under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
}

// run plays the case: history, each kill with its checks, then the apply
// that finishes. It returns how many kills hit and how many came too late.
func (cw *crashWorld) run(t *testing.T, c crashCase) (hit, missed int) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("owui output of this case:\n%s", strings.Join(cw.outputs, "\n"))
		}
	})
	cw.copyHistory(t, c.history)
	cw.writePolicy(t, c.keepLast)
	at := func(i int) time.Time {
		if c.sameSecond {
			return cw.base
		}
		return cw.base.Add(time.Duration(i) * time.Minute)
	}
	for i, k := range c.kills {
		now := at(i)
		before := cw.inspect(t)
		pruned := cw.plannedPrunes(t, now)
		if cw.killedApply(t, k, now) {
			hit++
		} else {
			missed++
		}
		cw.settle(t)
		after := cw.inspect(t)
		cw.checkNothingLost(t, before, after, pruned)
		cw.checkListed(t, before, after)
		cw.checkRestores(t, after)
		cw.checkPlan(t, after, at(i+1))
		if t.Failed() {
			t.FailNow()
		}
	}
	final := at(len(c.kills))
	code, out, errs := cw.owui(t, "apply", "--auto-approve", "-f", cw.policy, "--now", final.Format(time.RFC3339))
	cw.outputs = append(cw.outputs, fmt.Sprintf("== apply at %s, left to finish: exit %d\n%s%s", final.Format(time.RFC3339), code, out, errs))
	if code != 0 {
		t.Fatalf("apply after the kills: exit %d", code)
	}
	after := cw.inspect(t)
	first := planner.SnapshotID(at(0))
	for tname, snaps := range after {
		for id, m := range snaps {
			if m == nil {
				t.Errorf("%s: snapshot %s still incomplete after the apply that finishes", tname, id)
			}
		}
		if ids := completeIDs(snaps); len(ids) == 0 || ids[len(ids)-1] < first {
			t.Errorf("%s: no snapshot made since the first kill (at %s) after the apply that finishes: %v", tname, first, ids)
		}
	}
	cw.checkListed(t, after, after)
	cw.checkRestores(t, after)
	if code, out, errs := cw.owui(t, "plan", "--detailed-exitcode", "-f", cw.policy, "--now", final.Format(time.RFC3339)); code != 0 {
		t.Errorf("plan after the apply that finishes: exit %d, want 0 (nothing to do)\n%s%s", code, out, errs)
	}
	cw.checkNoLeftovers(t)
	return hit, missed
}

// killedApply runs owui apply as a child process that kills itself at k,
// and reports whether the kill hit (the apply may finish before a timed
// kill). A kill at an event must hit.
func (cw *crashWorld) killedApply(t *testing.T, k kill, now time.Time) bool {
	t.Helper()
	cmd := owuiProcess(t, "apply", "--auto-approve", "-f", cw.policy, "--now", now.Format(time.RFC3339))
	cmd.Env = append(cmd.Env, envKillAt+"="+k.at, envStallAt+"="+k.stall, envKillDelay+"="+k.delay.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(childTimeout, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	what := fmt.Sprintf("apply at %s killed at %q (stall at %q, delay %s)", now.Format(time.RFC3339), k.at, k.stall, k.delay)
	cw.outputs = append(cw.outputs, "== "+what+"\n"+out.String())
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	if err == nil && k.delay > 0 {
		t.Logf("%s: finished before the kill", what)
		return false
	}
	t.Fatalf("%s: %v, want killed by SIGKILL\n%s", what, err, out.String())
	return false
}

// owui runs an owui command in a process of its own, as a person would
// after the crash (and since the cases run at once: owui run in-process
// sets rclone's global log level).
func (cw *crashWorld) owui(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := owuiProcess(t, args...)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(childTimeout, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("owui %v: %v", args, err)
	}
	return code, out.String(), errs.String()
}

// plan is owui plan --json at now.
func (cw *crashWorld) plan(t *testing.T, now time.Time) planner.JSONPlan {
	t.Helper()
	code, out, errs := cw.owui(t, "plan", "--json", "-f", cw.policy, "--now", now.Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("plan --json: exit %d\n%s", code, errs)
	}
	var jp planner.JSONPlan
	if err := json.Unmarshal([]byte(out), &jp); err != nil {
		t.Fatalf("plan --json output: %v\n%s", err, out)
	}
	return jp
}

// settle waits for the S3 server to finish the requests the killed process
// left in flight, and to remove the temporary files of those cut short.
func (cw *crashWorld) settle(t *testing.T) {
	t.Helper()
	if err := cw.srv.Quiesce(10 * time.Second); err != nil {
		t.Fatalf("S3 server after the kill: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		temporary := false
		_ = filepath.WalkDir(cw.roots["s3"], func(p string, d iofs.DirEntry, err error) error {
			temporary = temporary || (err == nil && isTemporary(d.Name()))
			return nil
		})
		if !temporary {
			return
		}
	}
}

// isTemporary reports whether a file name is that of an upload in progress:
// rclone's partial files, or the S3 server's own.
func isTemporary(name string) bool {
	return strings.Contains(name, ".partial") || strings.HasPrefix(name, ".rclone_temp")
}

// targetSnapshots maps each target to its snapshots of daily: the parsed
// manifest, or nil for a directory without one that parses.
type targetSnapshots map[string]map[string]*manifest.Manifest

// inspect looks at the targets' bytes directly, not through owui.
func (cw *crashWorld) inspect(t *testing.T) targetSnapshots {
	t.Helper()
	out := targetSnapshots{}
	for tname, root := range cw.roots {
		out[tname] = map[string]*manifest.Manifest{}
		ents, err := os.ReadDir(filepath.Join(root, "daily"))
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue // owui's own, never a snapshot
			}
			if !e.IsDir() {
				t.Errorf("%s: daily/%s is not a snapshot directory", tname, e.Name())
				continue
			}
			if noObjects(tname, filepath.Join(root, "daily", e.Name())) {
				continue
			}
			var m *manifest.Manifest
			if data, err := os.ReadFile(filepath.Join(root, "daily", e.Name(), manifest.FileName)); err == nil {
				m, _ = manifest.Decode(data)
			}
			out[tname][e.Name()] = m
		}
	}
	return out
}

func completeIDs(snaps map[string]*manifest.Manifest) []string {
	var ids []string
	for id, m := range snaps {
		if m != nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// plannedPrunes is the set of target/id the apply at now prunes.
func (cw *crashWorld) plannedPrunes(t *testing.T, now time.Time) map[string]bool {
	t.Helper()
	pruned := map[string]bool{}
	for _, a := range cw.plan(t, now).Actions {
		if a.Action == string(planner.KindPrune) {
			pruned[a.Target+"/"+a.Snapshot] = true
		}
	}
	return pruned
}

// checkNothingLost: every snapshot complete before the kill is complete
// after it, unless the killed apply was to prune it.
func (cw *crashWorld) checkNothingLost(t *testing.T, before, after targetSnapshots, pruned map[string]bool) {
	t.Helper()
	for tname, snaps := range before {
		for _, id := range completeIDs(snaps) {
			if after[tname][id] == nil && !pruned[tname+"/"+id] {
				t.Errorf("%s: complete snapshot %s lost to the kill", tname, id)
			}
		}
	}
}

// listed is what owui snapshots --json lists, as target/id, sorted.
func (cw *crashWorld) listed(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, errs := cw.owui(t, append([]string{"snapshots", "--json", "-f", cw.policy}, args...)...)
	if code != 0 {
		t.Fatalf("snapshots --json %v: exit %d\n%s%s", args, code, out, errs)
	}
	var listed struct{ Snapshots []snapshotJSON }
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("snapshots --json: %v\n%s", err, out)
	}
	var ids []string
	for _, s := range listed.Snapshots {
		if s.Backup != "daily" {
			t.Errorf("snapshots --json lists backup %q", s.Backup)
		}
		ids = append(ids, s.Target+"/"+s.Snapshot)
	}
	slices.Sort(ids)
	return ids
}

// complete is the sorted target/id of the complete snapshots of each of sets.
func complete(sets ...targetSnapshots) []string {
	var ids []string
	for _, on := range sets {
		for tname, snaps := range on {
			for _, id := range completeIDs(snaps) {
				ids = append(ids, tname+"/"+id)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// checkListed: before a refresh, state may be behind the targets (still
// listing a snapshot pruned there, or not yet one whose manifest was
// written just before the kill) but never lists one that was never
// complete; after owui refresh, owui snapshots --json lists exactly the
// snapshots whose manifest is on the target and parses.
func (cw *crashWorld) checkListed(t *testing.T, before, after targetSnapshots) {
	t.Helper()
	known := complete(before, after)
	for _, id := range cw.listed(t, "--refresh=false") {
		if _, ok := slices.BinarySearch(known, id); !ok {
			t.Errorf("state lists %s, which was never complete on the target", id)
		}
	}
	if code, out, errs := cw.owui(t, "refresh", "-f", cw.policy); code != 0 {
		t.Fatalf("refresh: exit %d\n%s%s", code, out, errs)
	}
	if got, want := cw.listed(t), complete(after); !slices.Equal(got, want) {
		t.Errorf("snapshots --json lists %v; the targets hold complete snapshots %v", got, want)
	}
}

// checkRestores: every complete snapshot's files are on the target as its
// manifest lists them, and owui restore gives them back.
func (cw *crashWorld) checkRestores(t *testing.T, on targetSnapshots) {
	t.Helper()
	for tname, snaps := range on {
		for _, id := range completeIDs(snaps) {
			m := snaps[id]
			dir := filepath.Join(cw.roots[tname], "daily", id)
			if bad := treeMatches(dir, m, true); bad != "" {
				t.Errorf("%s: complete snapshot %s on the target: %s", tname, id, bad)
				continue
			}
			sum, err := m.SHA256()
			if err != nil {
				t.Fatal(err)
			}
			if _, done := cw.suite.restored.Load(tname + "/" + sum); done {
				continue
			}
			to := filepath.Join(t.TempDir(), "restored")
			if code, out, errs := cw.owui(t, "restore", "daily", "--target", tname, "--snapshot", id, "--to", to, "-f", cw.policy); code != 0 {
				t.Errorf("restore %s from %s: exit %d\n%s%s", id, tname, code, out, errs)
				continue
			}
			if bad := treeMatches(to, m, false); bad != "" {
				t.Errorf("%s: snapshot %s restored: %s", tname, id, bad)
			} else {
				cw.suite.restored.Store(tname+"/"+sum, true)
			}
			_ = os.RemoveAll(to)
		}
	}
}

// treeMatches says how dir differs from the files m lists (sizes and
// sha256), or "" when it does not; withManifest expects the manifest there
// too.
func treeMatches(dir string, m *manifest.Manifest, withManifest bool) string {
	want := map[string]manifest.File{}
	for _, f := range m.Files {
		want[f.Path] = f
	}
	var diffs []string
	err := filepath.WalkDir(dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if withManifest && rel == manifest.FileName {
			withManifest = false
			return nil
		}
		f, ok := want[rel]
		if !ok {
			diffs = append(diffs, "extra file "+rel)
			return nil
		}
		delete(want, rel)
		size, sum, err := fileSHA256(p)
		if err != nil {
			return err
		}
		if size != f.Size || sum != f.SHA256 {
			diffs = append(diffs, fmt.Sprintf("%s: %d bytes, sha256 %.12s; manifest says %d, %.12s", rel, size, sum, f.Size, f.SHA256))
		}
		return nil
	})
	if err != nil {
		return err.Error()
	}
	for rel := range want {
		diffs = append(diffs, "missing file "+rel)
	}
	if withManifest {
		diffs = append(diffs, "no "+manifest.FileName)
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}

func fileSHA256(p string) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// checkPlan: plan --json at the next apply's time repairs exactly the
// incomplete snapshots, and snapshots and prunes exactly what it would if
// they were not there: retention never counts an incomplete snapshot.
func (cw *crashWorld) checkPlan(t *testing.T, on targetSnapshots, now time.Time) {
	t.Helper()
	jp := cw.plan(t, now)
	var got []string
	for _, a := range jp.Actions {
		if a.Action != string(planner.KindVerify) {
			got = append(got, a.Action+" "+a.Target+"/"+a.Snapshot)
		}
	}
	p, diags := config.LoadFile(cw.policy)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var obs planner.Observed
	var want []string
	for tname, snaps := range on {
		for id, m := range snaps {
			if m == nil {
				want = append(want, string(planner.KindRepair)+" "+tname+"/"+id)
				continue
			}
			obs.Snapshots = append(obs.Snapshots, planner.Snapshot{
				Backup: "daily", Target: tname, ID: id, CreatedAt: m.CreatedAt, Status: planner.StatusComplete,
			})
		}
	}
	for _, a := range planner.Make(p, obs, now).Actions {
		if a.Kind != planner.KindVerify {
			want = append(want, string(a.Kind)+" "+a.Target+"/"+a.Snapshot)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("plan at %s after the kill:\n  got  %v\n  want %v (repairs of the incomplete snapshots, and the plan without them)\nlocal holds %v\ns3 holds %v",
			now.Format(time.RFC3339), got, want, filesUnder(cw.roots["local"]), filesUnder(cw.roots["s3"]))
	}
}

// checkNoLeftovers: no staging files (even when the apply that finished
// had nothing to do: a run killed after its last manifest leaves them), no
// temporary files of uploads cut short, and under the backup's prefix
// nothing but complete snapshots (no snapshot directory without its
// manifest). The lease of a killed run may stay: it expires, or the next
// run that writes there takes it over.
func (cw *crashWorld) checkNoLeftovers(t *testing.T) {
	t.Helper()
	staging := filepath.Join(cw.dir, ".owui", "staging")
	if ents, err := os.ReadDir(staging); err == nil && len(ents) > 0 {
		t.Errorf("staging leftovers in %s: %v", staging, ents)
	}
	for tname, root := range cw.roots {
		ents, err := os.ReadDir(filepath.Join(root, "daily"))
		if err != nil {
			t.Errorf("%s: %v", tname, err)
		}
		for _, e := range ents {
			if e.Name() == ".owui-lock" {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, "daily", e.Name(), manifest.FileName)); !e.IsDir() || err != nil {
				if e.IsDir() && noObjects(tname, filepath.Join(root, "daily", e.Name())) {
					continue
				}
				t.Errorf("%s: left behind under the backup's prefix: %s %v", tname, e.Name(), filesUnder(filepath.Join(root, "daily", e.Name())))
			}
		}
		_ = filepath.WalkDir(root, func(p string, d iofs.DirEntry, err error) error {
			if err != nil {
				t.Errorf("%s: %v", tname, err)
			} else if isTemporary(d.Name()) {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s: temporary file left behind: %s", tname, rel)
			}
			return nil
		})
	}
}

// noObjects reports whether dir, on the S3 target, holds empty
// directories only: what the S3 test server can leave behind where
// deletes raced, which S3 itself never shows (no object, no prefix; see
// s3test.StartServer, which hides them from owui too).
func noObjects(tname, dir string) bool {
	if tname != "s3" {
		return false
	}
	left := filesUnder(dir)
	return !slices.ContainsFunc(left, func(f string) bool { return !strings.HasSuffix(f, "/") })
}

// filesUnder lists the files under dir, for error messages, and the
// empty directories (with a trailing "/").
func filesUnder(dir string) []string {
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if !d.IsDir() {
			files = append(files, rel)
		} else if ents, _ := os.ReadDir(p); len(ents) == 0 {
			files = append(files, rel+"/")
		}
		return nil
	})
	return files
}
