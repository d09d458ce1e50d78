package dockertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/owui/owui/internal/livewriter"
)

func TestInstanceKeepsCommitting(t *testing.T) {
	in := RunInstance(t, Options{})
	if got := in.State(t); got != "running" {
		t.Fatalf("state = %s, want running", got)
	}
	first := in.Commits(t)
	deadline := time.Now().Add(10 * time.Second)
	for in.Commits(t) <= first {
		if time.Now().After(deadline) {
			t.Fatalf("no commit after %d within 10s:\n%s", first, in.Logs(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
	dir := in.DataDir(t)
	for _, f := range []string{"audit.log", "vector_db/chroma.sqlite3", "vector_db/8c1f9e0a-0000-4000-8000-000000000001/data_level0.bin"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the fake did not write %s: %v", f, err)
		}
	}
}

// A stop (SIGTERM) closes the database: no WAL is left and the invariant
// holds in the file alone.
func TestInstanceStopsCleanly(t *testing.T) {
	in := RunInstance(t, Options{})
	if err := in.Client.Stop(context.Background(), in.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	dir := in.DataDir(t)
	if _, err := os.Stat(filepath.Join(dir, "webui.db-wal")); !os.IsNotExist(err) {
		t.Fatalf("webui.db-wal after stop: %v\n%s", err, in.Logs(t))
	}
	if rows, err := livewriter.CheckInvariant(filepath.Join(dir, "webui.db")); err != nil || rows == 0 {
		t.Fatalf("CheckInvariant = %d, %v", rows, err)
	}
}

func TestImageIsCachedByContent(t *testing.T) {
	a := Image(t)
	b := Image(t)
	if a != b {
		t.Fatalf("Image() = %s then %s", a, b)
	}
}
