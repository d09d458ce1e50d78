package faultfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/fserrors"
	"github.com/rclone/rclone/fs/object"
	"github.com/rclone/rclone/fs/operations"

	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/backend/s3"

	"github.com/owui/owui/internal/faultfs"
	"github.com/owui/owui/internal/s3test"
)

// open wraps a new local directory (or base, when given) with opts and
// opens the wrapper as owui does, through rclone's Fs cache.
func open(t *testing.T, base string, opts ...string) (fs.Fs, *faultfs.Counters, string) {
	t.Helper()
	if base == "" {
		base = filepath.Join(t.TempDir(), "base")
		if err := os.MkdirAll(base, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	remote, c := faultfs.Remote(t, base, opts...)
	f, err := fs.NewFs(context.Background(), remote)
	if err != nil {
		t.Fatalf("open %s: %v", remote, err)
	}
	return f, c, base
}

// put writes name through operations.Copy, as owui's target package does,
// so rclone's low-level retries apply.
func put(ctx context.Context, f fs.Fs, name, body string) error {
	_, err := operations.Copy(ctx, f, nil, name, object.NewMemoryObject(name, time.Now(), []byte(body)))
	return err
}

func TestWrapperIsNotLocalAndPassesThrough(t *testing.T) {
	f, c, base := open(t, "")
	if f.Features().IsLocal {
		t.Error("the wrapper reports itself local: owui would hard-link around it")
	}
	ctx := context.Background()
	if err := put(ctx, f, "a/b.txt", "hello"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(base, "a", "b.txt"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("base holds %q, %v; want hello", got, err)
	}
	o, err := f.NewObject(ctx, "a/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	if o.Fs() != f {
		t.Errorf("object's Fs is %v, want the wrapper", o.Fs())
	}
	if st := c.Stats(); st.Writes != 1 || st.Succeeded != 1 {
		t.Errorf("stats %+v, want 1 write, 1 succeeded", st)
	}
}

// TestBaseErrorsAreCounted: a write the wrapped remote fails by itself
// is counted as such, not as a success or an injected fault.
func TestBaseErrorsAreCounted(t *testing.T) {
	f, c, base := open(t, "")
	if err := os.WriteFile(filepath.Join(base, "a"), []byte("a file, not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := put(context.Background(), f, "a/b.txt", "hello"); err == nil {
		t.Fatal("writing under a file succeeded")
	}
	if st := c.Stats(); st.BaseErrors == 0 || st.Succeeded != 0 || st.Writes != st.BaseErrors {
		t.Errorf("stats %+v, want every write a base error", st)
	}
}

// TestPermanentFailures: the injected failures are not retried by rclone's
// low-level retries (one attempt per file), and hit exactly the writes
// the option names.
func TestPermanentFailures(t *testing.T) {
	tests := map[string]struct {
		opt        string
		wantFailed []int // 1-based write numbers that fail
	}{
		"fail_every=3": {"fail_every=3", []int{3, 6}},
		"fail_after=4": {"fail_after=4", []int{5, 6}},
		"fail_after=0": {"fail_after=0", []int{1, 2, 3, 4, 5, 6}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, c, _ := open(t, "", tc.opt)
			var failed []int
			for i := 1; i <= 6; i++ {
				err := put(context.Background(), f, fmt.Sprintf("f%d", i), "x")
				if err != nil {
					if fserrors.ShouldRetry(err) || fserrors.IsRetryError(err) {
						t.Errorf("write %d: injected failure is retriable: %v", i, err)
					}
					failed = append(failed, i)
				}
			}
			if fmt.Sprint(failed) != fmt.Sprint(tc.wantFailed) {
				t.Errorf("failed writes %v, want %v", failed, tc.wantFailed)
			}
			if st := c.Stats(); st.Writes != 6 || st.Failed != int64(len(tc.wantFailed)) {
				t.Errorf("stats %+v: want 6 writes (no retries), %d failed", st, len(tc.wantFailed))
			}
		})
	}
}

// TestTransientFailuresAreRetried: rclone's low-level retries cure every
// injected transient failure, over a local and an S3 remote.
func TestTransientFailuresAreRetried(t *testing.T) {
	bases := map[string]string{"local": "", "s3": s3test.Start(t)}
	for name, base := range bases {
		t.Run(name, func(t *testing.T) {
			f, c, _ := open(t, base, "transient_every=2")
			for i := range 5 {
				if err := put(context.Background(), f, fmt.Sprintf("dir/f%d", i), "body"); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
			}
			st := c.Stats()
			// Writes 2, 4, 6 and 8 fail; each is retried as the next write.
			if st.Succeeded != 5 || st.Transient != 4 || st.Writes != st.Succeeded+st.Transient {
				t.Errorf("stats %+v: want 5 succeeded after 4 retried transient failures", st)
			}
		})
	}
}

// TestServerSideCopyCounts: on S3 a server-side copy through the wrapper
// is a write, and is faulted like one.
func TestServerSideCopyCounts(t *testing.T) {
	f, c, _ := open(t, s3test.Start(t), "fail_every=2")
	ctx := context.Background()
	if err := put(ctx, f, "src", "data"); err != nil {
		t.Fatal(err)
	}
	doCopy := f.Features().Copy
	if doCopy == nil {
		t.Fatal("the wrapper over S3 has no server-side copy")
	}
	src, err := f.NewObject(ctx, "src")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := doCopy(ctx, src, "dst"); err == nil {
		t.Fatal("second write (a server-side copy) did not fail")
	}
	if _, err := doCopy(ctx, src, "dst"); err != nil {
		t.Fatalf("third write: %v", err)
	}
	if st := c.Stats(); st.Writes != 3 || st.Failed != 1 || st.Succeeded != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestRefusals(t *testing.T) {
	tests := map[string]struct {
		opt   string
		errno syscall.Errno
	}{
		"full":      {"full=true", syscall.ENOSPC},
		"read_only": {"read_only=true", syscall.EROFS},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, c, _ := open(t, "", tc.opt)
			err := put(context.Background(), f, "a.txt", "x")
			var pe *os.PathError
			if !errors.As(err, &pe) || !errors.Is(err, tc.errno) {
				t.Fatalf("write: %v (%T); want an *os.PathError over %v", err, err, tc.errno)
			}
			if fserrors.ShouldRetry(err) {
				t.Errorf("%v is retriable", err)
			}
			if st := c.Stats(); st.Writes != 1 || st.Refused != 1 {
				t.Errorf("stats %+v: want one write, refused", st)
			}
		})
	}
	t.Run("read_only refuses deletes", func(t *testing.T) {
		_, _, base := open(t, "")
		if err := os.WriteFile(filepath.Join(base, "keep"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, _, _ := open(t, base, "read_only=true")
		o, err := f.NewObject(context.Background(), "keep")
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Remove(context.Background()); !errors.Is(err, syscall.EROFS) {
			t.Errorf("Remove: %v, want EROFS", err)
		}
		if _, err := os.Stat(filepath.Join(base, "keep")); err != nil {
			t.Errorf("file gone after a refused delete: %v", err)
		}
	})
}

// TestWaitsHonourTheContext: delay, hang and Hold all end when the write's
// context does, with the context's error.
func TestWaitsHonourTheContext(t *testing.T) {
	tests := map[string]struct {
		opts []string
		hold bool
	}{
		"delay": {opts: []string{"delay=1h"}},
		"hang":  {opts: []string{"hang=true"}},
		"hold":  {hold: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, c, _ := open(t, "", tc.opts...)
			if tc.hold {
				c.Hold()
				defer c.Release()
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- put(ctx, f, "a", "x") }()
			for c.Stats().Writes == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("write: %v, want context.Canceled", err)
			}
			if st := c.Stats(); st.Succeeded != 0 {
				t.Errorf("stats %+v: a write went through", st)
			}
		})
	}
}

func TestReleaseLetsHeldWritesGo(t *testing.T) {
	f, c, base := open(t, "", "delay=1ms")
	c.Hold()
	done := make(chan error, 1)
	go func() { done <- put(context.Background(), f, "a", "x") }()
	for c.Stats().Writes == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(base, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a held write reached the base: %v", err)
	}
	c.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Succeeded != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestShortReads reads through operations.Open, which re-opens after read
// errors (rclone's low-level retries), as owui's downloads do.
func TestShortReads(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 1000)
	tests := map[string]struct {
		mode    string
		wantErr error
		wantLen int
	}{
		"truncate": {mode: "true", wantLen: len(body) / 2},
		"error":    {mode: "error", wantErr: io.ErrUnexpectedEOF, wantLen: len(body) / 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, _, base := open(t, "")
			if err := os.WriteFile(filepath.Join(base, "data.bin"), body, 0o644); err != nil {
				t.Fatal(err)
			}
			f, c, _ := open(t, base, "short_reads="+tc.mode)
			ctx := context.Background()
			o, err := f.NewObject(ctx, "data.bin")
			if err != nil {
				t.Fatal(err)
			}
			in, err := operations.Open(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(in)
			_ = in.Close()
			if !errors.Is(err, tc.wantErr) && err != tc.wantErr {
				t.Errorf("read: %v, want %v", err, tc.wantErr)
			}
			if len(got) != tc.wantLen || !bytes.Equal(got, body[:len(got)]) {
				t.Errorf("read %d bytes, want the first %d", len(got), tc.wantLen)
			}
			if st := c.Stats(); st.ShortReads == 0 {
				t.Errorf("stats %+v: no short read counted", st)
			}
		})
	}
}

// TestMatch: with match, only objects whose base name matches are faulted
// or counted.
func TestMatch(t *testing.T) {
	f, c, _ := open(t, "", "full=true", "match=*.txt")
	ctx := context.Background()
	if err := put(ctx, f, "dir/a.db", "x"); err != nil {
		t.Errorf("a.db: %v", err)
	}
	if err := put(ctx, f, "dir/b.txt", "x"); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("b.txt: %v, want ENOSPC", err)
	}
	if st := c.Stats(); st.Writes != 1 || st.Refused != 1 {
		t.Errorf("stats %+v: want only b.txt counted", st)
	}
}

func TestBadOptions(t *testing.T) {
	for _, opt := range []string{"transient_every=1", "short_reads=sometimes", "match=[", "fail_every=-1"} {
		remote, _ := faultfs.Remote(t, t.TempDir(), opt)
		if _, err := fs.NewFs(context.Background(), remote); err == nil {
			t.Errorf("%s: no error", opt)
		}
	}
}

// TestEachRemoteHasItsOwnCounters: two wrappers of one base are two Fs
// (rclone caches by connection string; Remote names each one).
func TestEachRemoteHasItsOwnCounters(t *testing.T) {
	f1, c1, base := open(t, "", "fail_every=2")
	f2, c2, _ := open(t, base, "fail_every=2")
	ctx := context.Background()
	if err := put(ctx, f1, "a", "x"); err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, f2, "b", "x"); err != nil {
		t.Fatalf("first write of the second wrapper failed: the counters are shared: %v", err)
	}
	if c1 == c2 || c1.Stats().Writes != 1 || c2.Stats().Writes != 1 {
		t.Errorf("counters %+v and %+v", c1.Stats(), c2.Stats())
	}
	if faultfs.Lookup("owuifault-never-opened").Stats() != (faultfs.Stats{}) {
		t.Error("Lookup of an unopened name has counts")
	}
}
