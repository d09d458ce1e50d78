// Package s3test runs a real S3 endpoint inside the test process: rclone's
// `serve s3` (gofakes3 over rclone's VFS) serving a local directory.
package s3test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rclone/rclone/fs/rc"

	// Registers the "s3" serve type with the rc serve/start call, and the
	// local backend the server stores objects with.
	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/cmd/serve/s3"
)

// Test credentials the server accepts (AWS signature v4).
const (
	AccessKeyID     = "owui-test-access-key"
	SecretAccessKey = "owui-test-secret-key"
	// Bucket is the bucket Start creates.
	Bucket = "owui-test"
)

// Start serves a new, empty S3 endpoint on a random port of 127.0.0.1 with
// its objects in a directory under t.TempDir(), stops it when the test ends,
// and returns an rclone connection string for the bucket it created:
// ":s3,provider=Rclone,endpoint='http://127.0.0.1:PORT',…:owui-test".
//
// The server's constructor in cmd/serve/s3 is unexported; the public way in
// is the rc call "serve/start" (what `rclone rc serve/start type=s3` runs),
// which that package registers and which returns the bound address and an id
// for "serve/stop".
func Start(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "s3")
	if err := os.MkdirAll(filepath.Join(dir, Bucket), 0o755); err != nil {
		t.Fatalf("create bucket directory: %v", err)
	}
	ctx := context.Background()
	out, err := call(ctx, "serve/start", rc.Params{
		"type":     "s3",
		"fs":       dir,
		"addr":     []string{"127.0.0.1:0"},
		"auth_key": []string{AccessKeyID + "," + SecretAccessKey},
	})
	if err != nil {
		t.Fatalf("start s3 server: %v", err)
	}
	id, _ := out["id"].(string)
	addr, _ := out["addr"].(string)
	t.Cleanup(func() {
		if _, err := call(context.Background(), "serve/stop", rc.Params{"id": id}); err != nil {
			t.Errorf("stop s3 server: %v", err)
		}
	})
	return fmt.Sprintf(":s3,provider=Rclone,endpoint='http://%s',access_key_id=%s,secret_access_key=%s:%s",
		addr, AccessKeyID, SecretAccessKey, Bucket)
}

func call(ctx context.Context, path string, in rc.Params) (rc.Params, error) {
	c := rc.Calls.Get(path)
	if c == nil {
		return nil, fmt.Errorf("rc call %s is not registered", path)
	}
	return c.Fn(ctx, in)
}
