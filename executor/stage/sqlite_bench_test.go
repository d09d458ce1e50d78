package stage

// Figures for bench/sqlite.sh, not timed tests: each benchmark builds its
// database, runs once (-benchtime 1x) and appends a Markdown fragment to
// $OWUI_BENCH_OUT. They are skipped unless $OWUI_BENCH_SQLITE_DIR names a
// scratch directory.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/owui/owui/internal/livewriter"
)

func benchDir(b *testing.B) string {
	dir := os.Getenv("OWUI_BENCH_SQLITE_DIR")
	if dir == "" {
		b.Skip("set OWUI_BENCH_SQLITE_DIR to a scratch directory (bench/sqlite.sh does)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	return dir
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// report appends a fragment to $OWUI_BENCH_OUT and logs it.
func report(b *testing.B, format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	b.Log("\n" + s)
	if out := os.Getenv("OWUI_BENCH_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintln(f, s)
	}
}

// benchDB makes a fresh database of about mb MB of 1,000-byte rows.
func benchDB(b *testing.B, path, mode string, mb int) livewriter.Options {
	opts := livewriter.Options{Path: path, Mode: mode, Rows: mb * 1e6 / 1070, RowBytes: 1000}
	if err := removeDatabase(path); err != nil {
		b.Fatal(err)
	}
	if err := livewriter.Setup(path, opts); err != nil {
		b.Fatal(err)
	}
	// Setup writes without fsync; its writeback would otherwise overlap
	// the first measurements.
	syscall.Sync()
	return opts
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// BenchmarkSQLiteDeleteUnderLoad: the latency an application's commits see
// on a DELETE-mode database (synchronous=FULL, as fast as it can commit)
// during a window with no snapshot, then during a window of similar length
// with 5 of owui's online snapshots.
func BenchmarkSQLiteDeleteUnderLoad(b *testing.B) {
	dir := benchDir(b)
	mb := envInt(b, "OWUI_BENCH_DELETE_MB", 200)
	opts := benchDB(b, filepath.Join(dir, "delete.db"), "delete", mb)
	opts.Synchronous = "FULL"
	st, err := os.Stat(opts.Path)
	if err != nil {
		b.Fatal(err)
	}
	w := livewriter.Start(b, opts)
	time.Sleep(2 * time.Second)
	w.Window() // warm-up
	const snapshots, gap = 5, 2 * time.Second
	time.Sleep(snapshots * gap)
	quiet := w.Window()
	var rows string
	for i := range snapshots {
		time.Sleep(gap / 2)
		dst := filepath.Join(dir, "delete-copy.db")
		start := time.Now()
		info, err := SnapshotSQLite(context.Background(), opts.Path, dst)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		n, err := livewriter.CheckInvariant(dst)
		if err != nil {
			b.Fatal(err)
		}
		rows += fmt.Sprintf("| %d | %.0f MB | %s | %.1f ms | %s | %d | %s |\n", i+1,
			float64(info.PageCount*info.PageSize)/1e6, info.Method, info.SourceHoldMillis, ms(took), n, info.IntegrityCheck)
		if err := removeDatabase(dst); err != nil {
			b.Fatal(err)
		}
		time.Sleep(gap / 2)
	}
	load := w.Window()
	total := w.Stop()
	b.ReportMetric(float64(load.MaxLatency.Microseconds())/1000, "max-ms-with-snapshots")
	b.ReportMetric(float64(quiet.MaxLatency.Microseconds())/1000, "max-ms-quiet")
	b.ReportMetric(float64(total.Failures), "failures")
	col := func(s livewriter.Stats) string {
		return fmt.Sprintf("%s | %.0f | %s | %s | %s | %d", s.Elapsed.Round(10*time.Millisecond), s.CommitsPerSec,
			ms(s.P50Latency), ms(s.P99Latency), ms(s.MaxLatency), s.Failures)
	}
	report(b, `### (a) DELETE-mode database, %.0f MB, writer synchronous=FULL, busy timeout 5 s

| window | length | commits/s | p50 | p99 | worst | failed commits |
|---|---|---|---|---|---|---|
| no snapshot | %s |
| 5 online snapshots | %s |

Whole writer run: %v.

| snapshot | size | method | source held (SourceHoldMillis) | snapshot total (copy + checks) | rows (invariant holds) | integrity_check |
|---|---|---|---|---|---|---|
%s`, float64(st.Size())/1e6, col(quiet), col(load), total, rows)
	if total.Failures != 0 {
		b.Errorf("%d commits failed: %s", total.Failures, total.FirstFailure)
	}
}

// BenchmarkSQLiteWALThroughput: owui's snapshot of a WAL database against
// the sqlite3 command line's .backup of the same file, idle and under a
// writer committing 2,000 times a second.
func BenchmarkSQLiteWALThroughput(b *testing.B) {
	dir := benchDir(b)
	mb := envInt(b, "OWUI_BENCH_WAL_MB", 400)
	cliTimeout := time.Duration(envInt(b, "OWUI_BENCH_CLI_TIMEOUT_S", 60)) * time.Second
	opts := benchDB(b, filepath.Join(dir, "wal.db"), "wal", mb)
	if _, err := exec.LookPath("sqlite3"); err != nil {
		b.Skip("no sqlite3 command line")
	}
	dst := filepath.Join(dir, "wal-copy.db")

	owui := func(label string) string {
		var rates, copyRates, holds []float64
		var walMB float64
		for range 3 {
			start := time.Now()
			info, err := SnapshotSQLite(context.Background(), opts.Path, dst)
			if err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			if _, err := livewriter.CheckInvariant(dst); err != nil {
				b.Fatal(err)
			}
			size := float64(info.PageCount*info.PageSize) / 1e6
			rates = append(rates, size/took.Seconds())
			copyRates = append(copyRates, size/(info.SourceHoldMillis/1000))
			holds = append(holds, info.SourceHoldMillis)
			if st, err := os.Stat(opts.Path + "-wal"); err == nil {
				walMB = max(walMB, float64(st.Size())/1e6)
			}
			if err := removeDatabase(dst); err != nil {
				b.Fatal(err)
			}
		}
		slices.Sort(rates)
		slices.Sort(copyRates)
		slices.Sort(holds)
		return fmt.Sprintf("| owui SnapshotSQLite (backup API in one step, then DELETE mode + integrity_check) | %s | %.0f MB/s (runs: %.0f, %.0f, %.0f) | %.0f MB/s | %.0f ms | %.0f MB |",
			label, rates[1], rates[0], rates[1], rates[2], copyRates[1], holds[1], walMB)
	}
	cli := func(label string, reps int) string {
		var rates []string
		var med []float64
		for range reps {
			if err := removeDatabase(dst); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
			start := time.Now()
			out, err := exec.CommandContext(ctx, "sqlite3", opts.Path, ".backup '"+dst+"'").CombinedOutput()
			took := time.Since(start)
			timedOut := ctx.Err() != nil
			cancel()
			switch {
			case timedOut:
				rates = append(rates, fmt.Sprintf("did not finish in %v", cliTimeout))
			case err != nil:
				b.Fatalf("sqlite3 .backup: %v: %s", err, out)
			default:
				st, err := os.Stat(dst)
				if err != nil {
					b.Fatal(err)
				}
				r := float64(st.Size()) / 1e6 / took.Seconds()
				med = append(med, r)
				rates = append(rates, fmt.Sprintf("%.0f", r))
			}
		}
		slices.Sort(med)
		m := "—"
		if len(med) == reps {
			m = fmt.Sprintf("%.0f MB/s", med[len(med)/2])
		}
		return fmt.Sprintf("| sqlite3 CLI `.backup` (100 pages a step, no check) | %s | %s (runs: %v) | same | whole run | |", label, m, rates)
	}

	idle := []string{owui("idle"), cli("idle", 3)}
	w := livewriter.Start(b, livewriter.Options{Path: opts.Path, Mode: "wal", Rate: 2000, RowBytes: 1000})
	time.Sleep(time.Second)
	loaded := []string{owui("writer at 2,000/s")}
	mid := w.Window()
	loaded = append(loaded, cli("writer at 2,000/s", 1))
	s := w.Stop()
	st, err := os.Stat(opts.Path)
	if err != nil {
		b.Fatal(err)
	}
	report(b, `### (b) WAL database, %d MB at the start (%.0f MB at the end): snapshot throughput

Throughput = size of the copy / wall time of the whole call (owui: copy, switch to DELETE mode, integrity_check; the CLI copies only). Copy only = size / the backup step's read transaction (SourceHoldMillis). WAL growth: the largest -wal seen right after a run.

| tool | load | throughput, whole call (median of 3) | copy only (median) | source read transaction (median) | -wal after |
|---|---|---|---|---|---|
%s
%s
%s
%s

Writer during owui's snapshots: %v. Whole writer run: %v.
`, mb, float64(st.Size())/1e6, idle[0], idle[1], loaded[0], loaded[1], mid, s)
	if s.Failures != 0 {
		b.Error(errors.New(s.FirstFailure))
	}
}
