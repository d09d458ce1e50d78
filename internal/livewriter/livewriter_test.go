package livewriter

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) {
	MaybeRunChild()
	os.Exit(m.Run())
}

func TestWriterKeepsInvariant(t *testing.T) {
	for _, mode := range []string{"wal", "delete"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "webui.db")
			opts := Options{Mode: mode, Rows: 1000, RowBytes: 500}
			if err := Setup(path, opts); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(path + "-wal"); err == nil {
				t.Error("Setup left -wal beside the database")
			}
			opts.Path = path
			w := Start(t, opts)
			time.Sleep(300 * time.Millisecond)
			win := w.Window()
			time.Sleep(300 * time.Millisecond)
			total := w.Stop()
			t.Logf("first window: %v", win)
			t.Logf("whole run:    %v", total)
			if total.Failures != 0 || win.Commits == 0 || total.Commits <= win.Commits {
				t.Errorf("window %+v, total %+v", win, total)
			}
			if total.P50Latency > total.P99Latency || total.P99Latency > total.MaxLatency || total.MaxLatency == 0 {
				t.Errorf("latencies out of order: %+v", total)
			}
			rows, err := CheckInvariant(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(1000) + total.Commits; rows != want || total.Counter != want {
				t.Errorf("%d rows, writer's counter %d; want %d (1000 + commits)", rows, total.Counter, want)
			}
		})
	}
}

func TestWriterRate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webui.db")
	if err := Setup(path, Options{Mode: "wal"}); err != nil {
		t.Fatal(err)
	}
	w := Start(t, Options{Path: path, Mode: "wal", Rate: 100})
	time.Sleep(time.Second)
	s := w.Stop()
	// 100/s for about a second; generous bounds, only the order matters.
	if s.Commits < 30 || s.Commits > 200 {
		t.Errorf("%d commits at a target of 100/s over %v", s.Commits, s.Elapsed)
	}
}

func TestCheckInvariantCatchesTornCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "webui.db")
	if err := Setup(path, Options{Mode: "delete", Rows: 10}); err != nil {
		t.Fatal(err)
	}
	w := Start(t, Options{Path: path, Mode: "delete", Rate: 50})
	time.Sleep(100 * time.Millisecond)
	w.Stop()
	if _, err := CheckInvariant(path); err != nil {
		t.Fatalf("intact database: %v", err)
	}
	// A counter that disagrees with the rows, as a copy mixing two moments would.
	db, err := openForTest(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE counter SET n = n + 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := CheckInvariant(path); err == nil {
		t.Error("CheckInvariant accepted a counter one ahead of the rows")
	}
}

func TestSummarize(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	got := summarize(lat, 2, "busy", 2*time.Second, 98)
	want := Stats{Commits: 98, Failures: 2, FirstFailure: "busy", MaxLatency: 100 * time.Millisecond,
		P99Latency: 99 * time.Millisecond, P50Latency: 50 * time.Millisecond, CommitsPerSec: 49, Elapsed: 2 * time.Second, Counter: 98}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("summarize (-want +got):\n%s", d)
	}
	if s := summarize(nil, 0, "", 0, 0); s.Commits != 0 || s.MaxLatency != 0 {
		t.Errorf("empty window: %+v", s)
	}
}

func openForTest(path string) (*sql.DB, error) { return sql.Open("sqlite", fileURI(path, nil)) }
