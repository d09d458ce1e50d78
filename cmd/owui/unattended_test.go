package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/owui/owui/sample"
)

// hookReceiver is a local webhook endpoint recording every request.
type hookReceiver struct {
	mu   sync.Mutex
	reqs []hookRequest
}

type hookRequest struct {
	Path string
	Body string
}

func newHookReceiver(t *testing.T) (*hookReceiver, string) {
	t.Helper()
	h := &hookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{r.URL.Path, string(body)})
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

const hookSecret = "hook-t0ken-9f8e7d6c"

// TestFailingTargetNotifiesOnce: one target cannot be written (its
// directory is below a regular file); the webhook gets exactly one failure
// notification naming the backup and target, with the error text and
// without the token in its URL; the healthcheck gets start then fail.
func TestFailingTargetNotifiesOnce(t *testing.T) {
	hook, base := newHookReceiver(t)
	dir := t.TempDir()
	inst := genInstance(t, dir)
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "good" {
  remote = %q
}
target "broken" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.good, target.broken]
  every    = "24h"
}
notify "ops" {
  url = "%s/hook/%s"
}
notify "quiet" {
  url = "%s/quiet/%s"
  on  = ["success"]
}
notify "hc" {
  healthcheck_url = "%s/ping/%s"
}
`, inst, filepath.Join(dir, "backups"), filepath.Join(blocker, "backups"), base, hookSecret, base, hookSecret, base, hookSecret))

	code, out, errs := cli(t, "-f", p, "apply", "--auto-approve")
	if code != 1 {
		t.Fatalf("apply with a broken target: exit %d, want 1\n%s%s", code, out, errs)
	}
	if strings.Contains(out+errs, hookSecret) {
		t.Errorf("output shows the notify URL's token:\n%s%s", out, errs)
	}
	if n := completeSnapshots(t, filepath.Join(dir, "backups"), "daily"); n != 1 {
		t.Errorf("the good target holds %d snapshots, want 1: a broken target must not stop the others", n)
	}
	var failures, pings []hookRequest
	for _, r := range hook.requests() {
		switch {
		case strings.HasPrefix(r.Path, "/hook/"):
			failures = append(failures, r)
		case strings.HasPrefix(r.Path, "/ping/"):
			pings = append(pings, r)
		default:
			t.Errorf("unexpected request to %s (success is silent unless asked for): %s", r.Path, r.Body)
		}
	}
	if len(failures) != 1 {
		t.Fatalf("webhook got %d failure notifications, want exactly 1: %+v", len(failures), failures)
	}
	var body struct {
		Event, Message string
		Items          []struct{ Backup, Target, Error, What_to_do string }
	}
	if err := json.Unmarshal([]byte(failures[0].Body), &body); err != nil {
		t.Fatalf("notification body: %v\n%s", err, failures[0].Body)
	}
	if body.Event != "failure" || len(body.Items) != 1 || body.Items[0].Backup != "daily" || body.Items[0].Target != "broken" {
		t.Errorf("notification = %+v, want one failure item for daily → broken", body)
	}
	if !strings.Contains(body.Items[0].Error, "not a directory") && !strings.Contains(body.Items[0].Error, "not-a-dir") {
		t.Errorf("notification lacks the error text: %q", body.Items[0].Error)
	}
	if !strings.Contains(body.Message, "What to do") {
		t.Errorf("message says nothing about what to do:\n%s", body.Message)
	}
	if strings.Contains(failures[0].Body, hookSecret) {
		t.Errorf("notification carries the secret:\n%s", failures[0].Body)
	}
	if len(pings) != 2 || !strings.HasSuffix(pings[0].Path, "/start") || !strings.HasSuffix(pings[1].Path, "/fail") {
		t.Fatalf("healthcheck pings = %+v, want start then fail", pings)
	}
	if !strings.Contains(pings[1].Body, "broken") {
		t.Errorf("fail ping body lacks the error: %q", pings[1].Body)
	}
}

// TestSuccessIsSilentUnlessAsked: a good run notifies only the block that
// asked for success.
func TestSuccessIsSilentUnlessAsked(t *testing.T) {
	hook, base := newHookReceiver(t)
	dir := t.TempDir()
	inst := genInstance(t, dir)
	p := writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "local" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "24h"
}
notify "failures" {
  url = "%s/failures"
}
notify "everything" {
  url = "%s/everything"
  on  = ["success", "failure"]
}
`, inst, filepath.Join(dir, "backups"), base, base))
	if code, out, errs := cli(t, "-f", p, "apply", "--auto-approve"); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	reqs := hook.requests()
	if len(reqs) != 1 || reqs[0].Path != "/everything" || !strings.Contains(reqs[0].Body, `"event":"success"`) {
		t.Fatalf("requests = %+v, want one success to /everything", reqs)
	}
	// Nothing to do: no news at all.
	if code, _, errs := cli(t, "-f", p, "apply", "--auto-approve"); code != 0 {
		t.Fatalf("second apply: exit %d\n%s", code, errs)
	}
	if n := len(hook.requests()); n != 1 {
		t.Errorf("a run with nothing to do sent %d more notifications", n-1)
	}
}

// TestStatusHistoryMetrics: status --json of an overdue backup exits 4 and
// names it; history lists the runs; --metrics-file is written.
func TestStatusHistoryMetrics(t *testing.T) {
	dir, f := minimalPolicy(t)
	prom := filepath.Join(dir, "owui.prom")
	t0 := "2026-03-01T03:00:00Z"
	if code, out, errs := cli(t, append(f, "--now", t0, "--metrics-file", prom, "apply", "--auto-approve")...); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	metrics, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`owui_run_last_success{command="apply"} 1`, `owui_backup_snapshots{backup="daily",target="local"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics file lacks %q:\n%s", want, metrics)
		}
	}

	type statusOut struct {
		Backups []struct {
			Backup, Target, NewestSnapshot string `json:"-"`
			B                              string `json:"backup"`
			Stale                          bool   `json:"stale"`
			Overdue                        bool   `json:"overdue"`
			NewestSnap                     string `json:"newest_snapshot"`
			LastRunResult                  string `json:"last_run_result"`
		}
	}
	check := func(now string, wantCode int, wantStale bool) {
		t.Helper()
		code, out, errs := cli(t, append(f, "--now", now, "status", "--json")...)
		if code != wantCode {
			t.Fatalf("status at %s: exit %d, want %d\n%s%s", now, code, wantCode, out, errs)
		}
		var st statusOut
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		if len(st.Backups) != 1 || st.Backups[0].B != "daily" || st.Backups[0].Stale != wantStale ||
			st.Backups[0].NewestSnap != "2026-03-01T030000Z" || st.Backups[0].LastRunResult != "ok" {
			t.Errorf("status at %s = %+v", now, st)
		}
		if wantStale && !strings.Contains(errs, "daily on local") {
			t.Errorf("status does not say which backup is overdue: %s", errs)
		}
	}
	check("2026-03-01T04:00:00Z", 0, false)
	check("2026-03-02T04:00:00Z", 0, false) // overdue by 1h, less than its every
	check("2026-03-03T04:00:00Z", 4, true)  // overdue by 25h

	code, out, errs := cli(t, append(f, "history", "--json")...)
	if code != 0 {
		t.Fatalf("history: exit %d\n%s", code, errs)
	}
	var h struct {
		Runs []struct {
			Command, Result string
			Actions         []struct{ Action, Backup, Target, Result string }
		}
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Runs) != 1 || h.Runs[0].Result != "ok" || len(h.Runs[0].Actions) != 1 || h.Runs[0].Actions[0].Action != "snapshot" {
		t.Errorf("history = %+v", h)
	}
}

// TestScheduleSystemdDir writes the units for a policy and has systemd
// check them; the timer fires at the policy's every.
func TestScheduleSystemdDir(t *testing.T) {
	dir, f := minimalPolicy(t)
	units := filepath.Join(dir, "units")
	code, out, errs := cli(t, append(f, "schedule", "systemd", "--dir", units)...)
	if code != 0 {
		t.Fatalf("schedule systemd: exit %d\n%s%s", code, out, errs)
	}
	timer, err := os.ReadFile(filepath.Join(units, "owui-apply.timer"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(timer), "OnCalendar=*-*-* 00:00:00") || !strings.Contains(string(timer), "Persistent=true") {
		t.Errorf("timer for every = 24h:\n%s", timer)
	}
	svc, _ := os.ReadFile(filepath.Join(units, "owui-apply.service"))
	if !strings.Contains(string(svc), "--file "+filepath.Join(dir, "owui.hcl")) || !strings.Contains(string(svc), "StateDirectory=owui") {
		t.Errorf("service does not name the absolute policy and StateDirectory:\n%s", svc)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("OWUI_REQUIRE_SYSTEMD") == "1" {
			t.Fatal("systemd-analyze not found")
		}
		t.Skip("systemd-analyze not installed (apt-get install systemd)")
	}
	names := []string{"owui-apply.service", "owui-apply.timer", "owui-watch.service"}
	args := []string{"verify"}
	for _, n := range names {
		args = append(args, filepath.Join(units, n))
	}
	vout, err := exec.Command(analyze, args...).CombinedOutput()
	if err != nil || strings.Contains(string(vout), units) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, vout)
	}
	if code, out, _ := cli(t, append(f, "schedule", "cron")...); code != 0 || !strings.Contains(out, "0 0 * * * ") {
		t.Errorf("schedule cron: exit %d\n%s", code, out)
	}
}

// syncBuffer is a bytes.Buffer safe for the watcher's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startWatch runs owui watch in-process until the test ends (or stop is
// called) and waits for it to be watching.
func startWatch(t *testing.T, args ...string) (errs *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errs = &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append(args, "watch"), streams{In: strings.NewReader(""), Out: io.Discard, Err: errs})
	}()
	var once sync.Once
	code := -1
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("watch did not stop within 30s of cancellation\n%s", errs)
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	waitFor(t, 20*time.Second, func() bool { return strings.Contains(errs.String(), "msg=watching") }, "watch to start", errs)
	return errs, stop
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string, log *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s\nwatch log:\n%s", timeout, what, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// completeSnapshots counts the snapshots of backup under a local target
// that have a manifest.
func completeSnapshots(t *testing.T, target, backup string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(target, backup))
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(target, backup, e.Name(), "owui-manifest.json")); err == nil {
			n++
		}
	}
	return n
}

// TestWatchBurstMakesOneSnapshot: 100 commits to webui.db in a burst, with
// a debounce of 2s, make exactly one change-triggered snapshot.
func TestWatchBurstMakesOneSnapshot(t *testing.T) {
	dir := t.TempDir()
	inst := genInstance(t, dir)
	backups := filepath.Join(dir, "backups")
	p := writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "local" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "24h"
  trigger {
    on_change    = true
    debounce     = "2s"
    min_interval = "1s"
  }
}
`, inst, backups))
	if code, out, errs := cli(t, "-f", p, "apply", "--auto-approve"); code != 0 {
		t.Fatalf("first apply: exit %d\n%s%s", code, out, errs)
	}
	db, err := sql.Open("sqlite", filepath.Join(inst, "webui.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS burst (n INTEGER)`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the next snapshot id must differ by a second at least

	log, stop := startWatch(t, "-f", p)
	// The table creation above happened before watch started: nothing due.
	time.Sleep(3 * time.Second)
	if n := completeSnapshots(t, backups, "daily"); n != 1 {
		t.Fatalf("%d snapshots before the burst, want 1\n%s", n, log)
	}
	start := time.Now()
	for i := range 100 {
		if _, err := db.Exec(`INSERT INTO burst (n) VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	burst := time.Since(start)
	waitFor(t, 60*time.Second, func() bool { return completeSnapshots(t, backups, "daily") >= 2 }, "the change-triggered snapshot", log)
	if took := time.Since(start); took < burst+2*time.Second {
		t.Errorf("snapshot %s after the burst started (burst %s): the 2s debounce was not honoured", took, burst)
	}
	// Quiet again: no further snapshot, owui's own reads included.
	time.Sleep(6 * time.Second)
	if n := completeSnapshots(t, backups, "daily"); n != 2 {
		t.Errorf("%d snapshots after a burst of 100 writes, want exactly 2 (the first apply and one triggered)\n%s", n, log)
	}
	t.Logf("watch log:\n%s", log)
	if !strings.Contains(log.String(), "change trigger") {
		t.Errorf("the plan reason does not name the change trigger:\n%s", log)
	}
	if code := stop(); code != 0 {
		t.Errorf("watch exit %d after cancellation, want 0\n%s", code, log)
	}
}

// TestWatchReloadsPolicy: a broken edit is reported and the last good
// policy kept; a good edit adding a backup is applied without a restart.
func TestWatchReloadsPolicy(t *testing.T) {
	dir := t.TempDir()
	inst := genInstance(t, dir)
	backups := filepath.Join(dir, "backups")
	policy := func(extra string) string {
		return fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "local" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "24h"
}
%s`, inst, backups, extra)
	}
	p := writePolicy(t, dir, policy(""))
	log, stop := startWatch(t, "-f", p)
	waitFor(t, 30*time.Second, func() bool { return completeSnapshots(t, backups, "daily") == 1 }, "the first snapshot", log)

	if err := os.WriteFile(p, []byte(policy("backup \"broken\" {\n  every = 5\n}\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(log.String(), "policy edit rejected") }, "the broken edit to be reported", log)
	if !strings.Contains(log.String(), "owui.hcl:") || !strings.Contains(log.String(), "Error: Missing required argument") {
		t.Errorf("the diagnostic of the broken edit is not shown as FILE:LINE,COL:\n%s", log)
	}
	if err := os.WriteFile(p, []byte(policy(`
backup "hourly" {
  instance = instance.main
  to       = [target.local]
  every    = "1h"
}
`)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool { return completeSnapshots(t, backups, "hourly") == 1 }, "the new backup's snapshot", log)
	if n := completeSnapshots(t, backups, "daily"); n != 1 {
		t.Errorf("daily has %d snapshots, want 1 (not due again)", n)
	}
	if code := stop(); code != 0 {
		t.Errorf("watch exit %d, want 0\n%s", code, log)
	}
}

// TestWatchSIGTERM stops a real owui watch process with SIGTERM while its
// first snapshot is being written: it exits 0 once the run has cleaned up,
// leaves no snapshot that looks complete and releases the lock.
func TestWatchSIGTERM(t *testing.T) {
	dir := t.TempDir()
	inst := filepath.Join(dir, "instance")
	if _, err := sample.Generate(inst, sample.Options{Scale: 0.05, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(dir, "backups")
	policy := writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "local" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "24h"
}
`, inst, backups))
	cmd := owuiProcess(t, "watch", "-f", policy)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ents, _ := os.ReadDir(filepath.Join(backups, "daily")); len(ents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("watch never started writing a snapshot:\n%s", out)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("watch after SIGTERM: %v, want exit 0\n%s", err, out)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("watch did not stop within 60s of SIGTERM\n%s", out)
	}
	if !strings.Contains(out.String(), "msg=stopped") {
		t.Errorf("watch did not log its clean stop:\n%s", out)
	}
	// Either the snapshot finished before the signal took effect, or
	// nothing that looks complete is left; the lock is free either way.
	n := completeSnapshots(t, backups, "daily")
	code, o, errs := cli(t, "apply", "--auto-approve", "-f", policy)
	if code != 0 {
		t.Fatalf("apply after the stopped watch: exit %d\n%s%s", code, o, errs)
	}
	if got := completeSnapshots(t, backups, "daily"); got != 1 {
		t.Errorf("after the next apply: %d complete snapshots (had %d), want 1", got, n)
	}
	ents, _ := os.ReadDir(filepath.Join(backups, "daily"))
	if len(ents) != 1 {
		t.Errorf("target holds %d entries after the next apply, want 1 (leftovers cleaned)", len(ents))
	}
}
