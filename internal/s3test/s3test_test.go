package s3test_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/rclone/rclone/backend/s3"
	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/operations"

	"github.com/owui/owui/internal/s3test"
)

func TestStartServesBucket(t *testing.T) {
	ctx := context.Background()
	remote := s3test.Start(t)
	if !strings.HasPrefix(remote, ":s3,provider=Rclone,") || !strings.HasSuffix(remote, ":"+s3test.Bucket) {
		t.Fatalf("Start() = %q, want an :s3 connection string for bucket %s", remote, s3test.Bucket)
	}
	f, err := fs.NewFs(ctx, remote)
	if err != nil {
		t.Fatalf("NewFs: %v", err)
	}
	want := []byte("hello s3")
	if _, err := operations.Rcat(ctx, f, "dir/hello.txt", io.NopCloser(bytes.NewReader(want)), time.Now(), nil); err != nil {
		t.Fatalf("Rcat: %v", err)
	}
	o, err := f.NewObject(ctx, "dir/hello.txt")
	if err != nil {
		t.Fatalf("NewObject: %v", err)
	}
	in, err := o.Open(ctx)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got, err := io.ReadAll(in)
	_ = in.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %q, %v; want %q", got, err, want)
	}
}

func TestStartRejectsWrongSecret(t *testing.T) {
	ctx := context.Background()
	remote := strings.Replace(s3test.Start(t), s3test.SecretAccessKey, "wrong-secret", 1)
	f, err := fs.NewFs(ctx, remote)
	if err != nil {
		t.Fatalf("NewFs: %v", err)
	}
	ctx, ci := fs.AddConfig(ctx)
	ci.LowLevelRetries = 1
	if _, err := f.List(ctx, ""); err == nil {
		t.Fatal("List with a wrong secret succeeded, want an authentication error")
	}
}

// TestServerHidesEmptyDirectories: a directory without objects in the
// server's store (what a delete race can leave) is not listed as a prefix
// through StartServer, as S3 would not list it; one with an object is.
func TestServerHidesEmptyDirectories(t *testing.T) {
	ctx := context.Background()
	srv := s3test.StartServer(t)
	f, err := fs.NewFs(ctx, srv.Remote)
	if err != nil {
		t.Fatal(err)
	}
	// Made before the server first looks at daily/, so that it is in its
	// view.
	if err := os.MkdirAll(filepath.Join(srv.Dir, s3test.Bucket, "daily", "empty", "vector_db", "seg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := operations.Rcat(ctx, f, "daily/full/x.txt", io.NopCloser(strings.NewReader("x")), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	entries, err := f.List(ctx, "daily")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Remote())
	}
	if len(got) != 1 || got[0] != "daily/full" {
		t.Errorf("daily/ lists %v, want daily/full alone", got)
	}
}
