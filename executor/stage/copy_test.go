package stage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCopyQuiet(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "vector_db", "seg", "data_level0.bin")
	data := strings.Repeat("hnsw", 50000)
	write(t, src, data)
	mtime := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	if err := os.Chtimes(src, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "staged.bin")
	c, err := CopyQuiet(context.Background(), src, dst, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != data {
		t.Error("copy differs from the source")
	}
	sum := sha256.Sum256([]byte(data))
	if c.SHA256 != hex.EncodeToString(sum[:]) || c.Size != int64(len(data)) || c.Attempts != 1 || !c.ModTime.Equal(mtime) {
		t.Errorf("Copied = %+v", c)
	}
	st, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(mtime) {
		t.Errorf("copy's mtime = %v, want %v", st.ModTime(), mtime)
	}
	if fileExists(dst + ".owui-partial") {
		t.Error("temporary file left behind")
	}
}

// appendLoop appends to path until stop is called.
func appendLoop(t *testing.T, path string) (stop func() int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var n int
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer f.Close()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := f.WriteString("log line\n"); err != nil {
				return
			}
			n++
			time.Sleep(100 * time.Microsecond)
		}
	}()
	return func() int { close(done); wg.Wait(); return n }
}

func TestCopyQuietGivesUpOnAChangingFile(t *testing.T) {
	old := retryDelay
	retryDelay = 5 * time.Millisecond
	t.Cleanup(func() { retryDelay = old })

	dir := t.TempDir()
	src := filepath.Join(dir, "audit.log")
	write(t, src, strings.Repeat("x", 4<<20))
	// Every attempt finds the file appended to while it was being copied.
	appended := 0
	afterCopyHook = func(string) {
		f, err := os.OpenFile(src, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteString("log line\n"); err != nil {
			t.Error(err)
		}
		appended++
	}
	t.Cleanup(func() { afterCopyHook = nil })
	dst := filepath.Join(dir, "staged.log")
	_, err := CopyQuiet(context.Background(), src, dst, 3)
	if !errors.Is(err, ErrKeptChanging) {
		t.Fatalf("CopyQuiet of a file being appended to: err = %v, want ErrKeptChanging", err)
	}
	if appended != 3 {
		t.Errorf("copied %d times, want 3", appended)
	}
	if !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("error %q does not say how often it tried", err)
	}
	if fileExists(dst) || fileExists(dst+".owui-partial") {
		t.Error("a failed copy left files behind")
	}
}

func TestCopyQuietCopiesAStateTheFileWasIn(t *testing.T) {
	old := retryDelay
	retryDelay = 50 * time.Millisecond
	t.Cleanup(func() { retryDelay = old })

	dir := t.TempDir()
	src := filepath.Join(dir, "header.bin")
	write(t, src, strings.Repeat("y", 4<<20))
	stop := appendLoop(t, src)
	go func() { time.Sleep(30 * time.Millisecond); stop() }() // the writer goes quiet during the first pause
	dst := filepath.Join(dir, "staged.bin")
	c, err := CopyQuiet(context.Background(), src, dst, 5)
	if err != nil {
		t.Fatal(err)
	}
	final, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	// The file only grows, so every consistent copy is a prefix of it. A
	// quiet gap between appends can be enough for an attempt to succeed.
	if !strings.HasPrefix(string(final), string(got)) || c.Size != int64(len(got)) || c.Size < 4<<20 {
		t.Errorf("copy of %d bytes (Copied.Size %d) is not a state the %d-byte file went through", len(got), c.Size, len(final))
	}
	t.Logf("copied %d of %d bytes in %d attempts", len(got), len(final), c.Attempts)
}

func TestCopyQuietCancelled(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	write(t, src, "data")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := CopyQuiet(ctx, src, filepath.Join(dir, "g"), 3); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if _, err := CopyQuiet(context.Background(), filepath.Join(dir, "missing"), filepath.Join(dir, "g"), 3); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing source: err = %v", err)
	}
}
