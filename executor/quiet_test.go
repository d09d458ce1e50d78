package executor_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/executor/stage"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// chromaFixture is a vector_db/ persisted by a real Chroma server.
const chromaFixture = "../sample/testdata/vector_db-chroma-1.5.9.tar.gz"

// liveDataDir is dataDir plus the real Chroma vector_db/ and an audit.log.
// It returns the segment directory of the collection past 1,000 vectors.
func liveDataDir(t *testing.T, uploads int) (data, segment string) {
	t.Helper()
	data = dataDir(t, uploads)
	untar(t, chromaFixture, data)
	if err := os.WriteFile(filepath.Join(data, "audit.log"), []byte("audit line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := filepath.Glob(filepath.Join(data, "vector_db", "*", "index_metadata.pickle"))
	if err != nil || len(m) != 1 {
		t.Fatalf("segment with index_metadata.pickle: %v, %v", m, err)
	}
	return data, filepath.Dir(m[0])
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// newModeEnv is newEnv with a consistency mode (and a container, which
// pause and stop need) and an optional Quiescer.
func newModeEnv(t *testing.T, data, remote, consistency string, hooks executor.Hooks, q executor.Quiescer) *env {
	t.Helper()
	src := fmt.Sprintf(`
instance "main" {
  data_dir  = %q
  container = "open-webui"
}
target "t" {
  remote = %q
}
backup "daily" {
  instance    = instance.main
  to          = [target.t]
  every       = "24h"
  consistency = %q
  exclude     = ["cache/**"]
}
`, data, remote, consistency)
	p, diags := config.Decode("test.hcl", []byte(src), config.DecodeOptions{BaseDir: t.TempDir(), DefaultLocation: time.UTC})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	stateDir := filepath.Join(t.TempDir(), "state")
	st, err := state.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &executor.Env{Policy: p, Store: st, StateDir: stateDir, Hooks: hooks, Version: "test"}
	if q != nil {
		e.OpenQuiescer = func(*config.Backup) (executor.Quiescer, error) { return q, nil }
	}
	return &env{Env: e, policy: p}
}

// timeline records the executor's reports and whether the quiet window was
// open at each. Logf can call a hook, to act at a given report.
type timeline struct {
	mu         sync.Mutex
	open       bool
	logs       []logLine
	progressIn int // progress reports while the window was open
	progress   int
	onLog      func(msg string)
}

type logLine struct {
	msg  string
	open bool
}

func (tl *timeline) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	tl.mu.Lock()
	tl.logs = append(tl.logs, logLine{msg, tl.open})
	hook := tl.onLog
	tl.mu.Unlock()
	if hook != nil {
		hook(msg)
	}
}

func (tl *timeline) Progress(string, string, int64, int64) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.progress++
	if tl.open {
		tl.progressIn++
	}
}

func (tl *timeline) setOpen(open bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.open = open
}

// recordingQuiescer stands in for Docker's pause: it marks the window on
// the timeline and, just before the window closes, runs atClose to look at
// what has happened inside it.
type recordingQuiescer struct {
	tl      *timeline
	windows int
	atClose func()
}

func (q *recordingQuiescer) Quiet(ctx context.Context, fn func(context.Context) error) error {
	q.windows++
	q.tl.setOpen(true)
	defer q.tl.setOpen(false)
	err := fn(ctx)
	if q.atClose != nil {
		q.atClose()
	}
	return err
}

// readManifest reads a snapshot's manifest from a local target.
func readManifest(t *testing.T, remote, id string) *manifest.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(remote, "daily", id, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestQuietWindowCoversOnlyLocalCapture: every SQLite and vector_db/ file
// (and audit.log) is copied locally inside the quiet window; hashing the
// uploads and every upload to the target come after it. The manifest says
// how vector_db/ was captured.
func TestQuietWindowCoversOnlyLocalCapture(t *testing.T) {
	for mode, method := range map[string]string{
		config.ConsistencyOnline: stage.MethodOnlineQuietCopy,
		config.ConsistencyPause:  stage.MethodPaused,
		config.ConsistencyStop:   stage.MethodStopped,
	} {
		t.Run(mode, func(t *testing.T) {
			data, _ := liveDataDir(t, 50)
			listing, err := stage.Scan(data, nil, []string{"cache/**"})
			if err != nil {
				t.Fatal(err)
			}
			remote := filepath.Join(t.TempDir(), "backups")
			tl := &timeline{}
			q := &recordingQuiescer{tl: tl}
			e := newModeEnv(t, data, remote, mode, tl, q)
			ctx := context.Background()
			now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
			id := planner.SnapshotID(now)
			var local, vectors int
			q.atClose = func() {
				if n := e.BytesSent(); n != 0 {
					t.Errorf("%d bytes uploaded while the window was open", n)
				}
				if cache, err := e.Store.HashCache(ctx); err != nil || len(cache) != 0 {
					t.Errorf("hash cache filled inside the window: %d entries, %v", len(cache), err)
				}
				staging := filepath.Join(e.StateDir, "staging", "daily-"+id)
				for _, ent := range listing.Entries {
					_, err := os.Stat(filepath.Join(staging, filepath.FromSlash(ent.Rel)))
					switch {
					case ent.Kind == stage.Immutable:
						if err == nil {
							t.Errorf("%s staged: uploads are sent from the data directory", ent.Rel)
						}
					case err != nil:
						t.Errorf("%s not captured inside the window: %v", ent.Rel, err)
					default:
						local++
						if strings.HasPrefix(ent.Rel, "vector_db/") {
							vectors++
						}
					}
				}
			}
			res, _ := e.applyAt(t, ctx, now)
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if q.windows != 1 {
				t.Errorf("%d quiet windows, want 1", q.windows)
			}
			if vectors != 14 || local != 16 { // + webui.db, audit.log
				t.Errorf("captured inside the window: %d files, %d of vector_db/; want 16, 14", local, vectors)
			}
			if tl.progressIn != 0 || tl.progress == 0 {
				t.Errorf("%d of %d upload progress reports inside the window, want 0 of some", tl.progressIn, tl.progress)
			}
			var hashed bool
			for _, l := range tl.logs {
				if strings.Contains(l.msg, "hashing") {
					hashed = true
					if l.open {
						t.Errorf("%q reported inside the window", l.msg)
					}
				}
			}
			if !hashed {
				t.Errorf("no hashing reported: %v", tl.logs)
			}
			m := readManifest(t, remote, id)
			want := []manifest.Capture{{Group: "vector_db", Method: method, Attempts: 1, Files: 14}}
			if fmt.Sprint(m.Captures) != fmt.Sprint(want) {
				t.Errorf("captures = %+v, want %+v", m.Captures, want)
			}
			if m.Consistency != mode || len(m.Files) != 66 {
				t.Errorf("manifest: consistency %q, %d files; want %q, 66", m.Consistency, len(m.Files), mode)
			}
			for _, f := range m.Files {
				if strings.HasSuffix(f.Path, ".sqlite3") || f.Path == "webui.db" {
					if f.SQLite == nil || f.SQLite.IntegrityCheck != "ok" {
						t.Errorf("%s: %+v", f.Path, f.SQLite)
					}
				}
				sum, size, err := stage.HashFile(filepath.Join(remote, "daily", id, filepath.FromSlash(f.Path)))
				if err != nil || sum != f.SHA256 || size != f.Size {
					t.Errorf("%s on the target does not match the manifest: %v", f.Path, err)
				}
			}
		})
	}
}

// TestPauseWithoutQuiescerFails: a pause or stop backup that owui cannot
// pause fails clearly; it is never quietly captured online instead.
func TestPauseWithoutQuiescerFails(t *testing.T) {
	data, _ := liveDataDir(t, 3)
	for _, mode := range []string{config.ConsistencyPause, config.ConsistencyStop} {
		for name, open := range map[string]func(*config.Backup) (executor.Quiescer, error){
			"no OpenQuiescer":     nil,
			"nil Quiescer":        func(*config.Backup) (executor.Quiescer, error) { return nil, nil },
			"OpenQuiescer errors": func(*config.Backup) (executor.Quiescer, error) { return nil, errors.New("docker: no engine") },
		} {
			t.Run(mode+"/"+name, func(t *testing.T) {
				remote := filepath.Join(t.TempDir(), "backups")
				e := newModeEnv(t, data, remote, mode, nil, nil)
				e.OpenQuiescer = open
				res, _ := e.applyAt(t, context.Background(), time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
				err := res.Err()
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("consistency %q", mode)) {
					t.Fatalf("err = %v, want a failure naming consistency %q", err, mode)
				}
				if n := e.BytesSent(); n != 0 {
					t.Errorf("%d bytes uploaded", n)
				}
				if left, _ := os.ReadDir(remote); len(left) != 0 {
					t.Errorf("target holds %v", left)
				}
			})
		}
	}
}

// segmentWriter rewrites a generation number in place at the start of two
// segment files, one after the other: a capture that mixes generations is
// torn. stop waits for the writer and returns the last generation written
// to both.
func segmentWriter(t *testing.T, a, b string) (stop func() uint64) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var last uint64
	writeGen := func(path string, g uint64) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteAt(binary.BigEndian.AppendUint64(nil, g), 0); err != nil {
			t.Error(err)
		}
	}
	wg.Go(func() {
		for g := uint64(1); ; g++ {
			select {
			case <-done:
				return
			default:
			}
			writeGen(a, g)
			time.Sleep(300 * time.Microsecond)
			writeGen(b, g)
			last = g
			time.Sleep(300 * time.Microsecond)
		}
	})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(done); wg.Wait() }) })
	return func() uint64 {
		once.Do(func() { close(done); wg.Wait() })
		return last
	}
}

func generation(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint64(b[:8])
}

// TestVectorDBRewrittenDuringCapture: a segment rewritten during the first
// two attempts; the third holds still. The manifest records 3 attempts and
// the snapshot holds the writer's last complete generation in both files.
func TestVectorDBRewrittenDuringCapture(t *testing.T) {
	data, seg := liveDataDir(t, 5)
	a, b := filepath.Join(seg, "data_level0.bin"), filepath.Join(seg, "length.bin")
	stop := segmentWriter(t, a, b)
	remote := filepath.Join(t.TempDir(), "backups")
	tl := &timeline{}
	retries := 0
	tl.onLog = func(msg string) {
		if strings.Contains(msg, "changed during capture attempt") {
			if retries++; retries == 2 {
				stop()
			}
		}
	}
	e := newModeEnv(t, data, remote, config.ConsistencyOnline, tl, nil)
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	res, _ := e.applyAt(t, context.Background(), now)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	last := stop()
	m := readManifest(t, remote, planner.SnapshotID(now))
	if len(m.Captures) != 1 || m.Captures[0].Attempts != 3 || m.Captures[0].Method != stage.MethodOnlineQuietCopy {
		t.Errorf("captures = %+v, want vector_db in 3 attempts online", m.Captures)
	}
	snap := filepath.Join(remote, "daily", planner.SnapshotID(now))
	for _, p := range []string{a, b} {
		rel, _ := filepath.Rel(data, p)
		if g := generation(t, filepath.Join(snap, rel)); g != last {
			t.Errorf("%s holds generation %d; the writer's last complete one is %d", rel, g, last)
		}
	}
}

// TestVectorDBNeverQuiet: a segment rewritten all along fails the snapshot
// with an error that says so and suggests pausing; nothing complete is left.
func TestVectorDBNeverQuiet(t *testing.T) {
	data, seg := liveDataDir(t, 5)
	segmentWriter(t, filepath.Join(seg, "data_level0.bin"), filepath.Join(seg, "length.bin"))
	remote := filepath.Join(t.TempDir(), "backups")
	e := newModeEnv(t, data, remote, config.ConsistencyOnline, nil, nil)
	ctx := context.Background()
	res, _ := e.applyAt(t, ctx, time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
	err := res.Err()
	if !errors.Is(err, stage.ErrKeptChanging) || !strings.Contains(err.Error(), `consistency = "pause"`) {
		t.Fatalf("err = %v, want ErrKeptChanging suggesting pause", err)
	}
	t.Logf("error: %v", err)
	r, err := e.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Observed.Snapshots {
		if s.Status == planner.StatusComplete {
			t.Errorf("snapshot %s looks complete", s.ID)
		}
	}
	if n := e.BytesSent(); n != 0 {
		t.Errorf("%d bytes uploaded for a snapshot that could not be captured", n)
	}
	if left, _ := os.ReadDir(filepath.Join(e.StateDir, "staging")); len(left) != 0 {
		t.Errorf("staging leftovers: %v", left)
	}
}
