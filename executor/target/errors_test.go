package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/rclone/rclone/backend/b2/api"
	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/fserrors"
	"github.com/rclone/rclone/lib/file"

	"github.com/owui/owui/config"
	"github.com/owui/owui/internal/faultfs"
	"github.com/owui/owui/internal/s3test"
	"github.com/owui/owui/manifest"
)

// s3Error is an S3 API error as rclone's s3 backend passes it up from the
// AWS SDK (seen with `rclone serve s3`: *smithy.OperationError over
// *s3shared.ResponseError over *smithy.GenericAPIError).
func s3Error(code, msg string) error {
	return fmt.Errorf("failed to upload: %w", &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject",
		Err: &smithy.GenericAPIError{Code: code, Message: msg}})
}

func TestClassify(t *testing.T) {
	pathErr := func(errno syscall.Errno) error {
		return &os.PathError{Op: "open", Path: "/mnt/nas/daily/x/webui.db", Err: errno}
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	tests := map[string]struct {
		err     error
		writing bool
		want    error // nil: returned unchanged
	}{
		"local disk full":                {pathErr(syscall.ENOSPC), true, ErrTargetFull},
		"local disk full, marked fatal":  {fserrors.FatalError(pathErr(syscall.ENOSPC)), true, ErrTargetFull},
		"quota":                          {pathErr(syscall.EDQUOT), true, ErrTargetFull},
		"rclone preallocate":             {file.ErrDiskFull, true, ErrTargetFull},
		"read-only mount":                {pathErr(syscall.EROFS), true, ErrTargetReadOnly},
		"permission denied on write":     {pathErr(syscall.EACCES), true, ErrTargetReadOnly},
		"operation not permitted":        {pathErr(syscall.EPERM), true, ErrTargetReadOnly},
		"permission denied on read":      {pathErr(syscall.EACCES), false, ErrTargetDenied},
		"s3 access denied":               {s3Error("AccessDenied", "Access Denied"), true, ErrTargetReadOnly},
		"s3 quota (ceph)":                {s3Error("QuotaExceeded", ""), true, ErrTargetFull},
		"minio storage full":             {s3Error("XMinioStorageFull", ""), true, ErrTargetFull},
		"minio bucket quota":             {s3Error("XMinioAdminBucketQuotaExceeded", ""), true, ErrTargetFull},
		"b2 storage cap":                 {&api.Error{Status: 403, Code: "storage_cap_exceeded", Message: "Cannot upload files, storage cap exceeded."}, true, ErrTargetFull},
		"s3 bad key":                     {s3Error("InvalidAccessKeyId", ""), false, ErrTargetCredentials},
		"s3 bad secret":                  {s3Error("SignatureDoesNotMatch", ""), true, ErrTargetCredentials},
		"connection refused":             {fmt.Errorf("Put: %w", refused), true, ErrTargetUnreachable},
		"no such host":                   {&net.DNSError{Err: "no such host", Name: "nas.invalid", IsNotFound: true}, false, ErrTargetUnreachable},
		"s3 other error":                 {s3Error("InternalError", "Internal Error"), true, nil},
		"plain error":                    {errors.New("corrupted on transfer: sizes differ"), true, nil},
		"cancelled":                      {fmt.Errorf("upload: %w", context.Canceled), true, nil},
		"source file unreadable":         {fmt.Errorf("failed to open source object: %w", pathErr(syscall.EACCES)), true, nil},
		"source file unreadable, nested": {fmt.Errorf("upload x: %w", fmt.Errorf("failed to open source object: %w", pathErr(syscall.EACCES))), true, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := classify("nas", tc.err, tc.writing)
			if tc.want == nil {
				if got != tc.err {
					t.Fatalf("classify(%v) = %v, want it unchanged", tc.err, got)
				}
				return
			}
			if !errors.Is(got, tc.want) {
				t.Fatalf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("the backend's error is no longer in the chain of %v", got)
			}
			wantText := fmt.Sprintf("target nas %s (%v)", kindPhrase[tc.want], tc.err)
			if got.Error() != wantText {
				t.Errorf("text %q, want %q", got.Error(), wantText)
			}
			if again := classify("nas", fmt.Errorf("more: %w", got), true); again.Error() != "more: "+got.Error() {
				t.Errorf("classified twice: %v", again)
			}
		})
	}
}

// TestEveryKindHasWords keeps kindPhrase and the sentinels in step.
func TestEveryKindHasWords(t *testing.T) {
	for _, k := range []error{ErrTargetFull, ErrTargetReadOnly, ErrTargetDenied, ErrTargetCredentials, ErrTargetUnreachable} {
		if kindPhrase[k] == "" {
			t.Errorf("%v has no phrase", k)
		}
	}
}

func testManifest() *manifest.Manifest {
	return &manifest.Manifest{
		FormatVersion: manifest.FormatVersion, Backup: "daily", Snapshot: "2026-11-01T030000Z",
		CreatedAt: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC), Instance: "main", Consistency: "online",
		Files: []manifest.File{{Path: "webui.db", Size: 21, SHA256: strings.Repeat("0", 64)}},
	}
}

func openTarget(t *testing.T, ctx context.Context, name, remote string) *Target {
	t.Helper()
	tg, err := Open(ctx, &config.Target{Name: name, Remote: remote})
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	return tg
}

func sourceFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "webui.db")
	if err := os.WriteFile(p, []byte("not really a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTargetMethodsClassify drives the Target's writes and reads into a
// full, read-only and credential-refusing target, over local and real S3
// remotes, and checks what their errors say.
func TestTargetMethodsClassify(t *testing.T) {
	ctx := context.Background()
	s3 := s3test.Start(t)
	src := sourceFile(t)
	bases := map[string]string{"local": "", "s3": s3}
	for kind, base := range bases {
		for _, fault := range []struct {
			opt  string
			want error
		}{{"full=true", ErrTargetFull}, {"read_only=true", ErrTargetReadOnly}} {
			t.Run(kind+"/"+fault.opt, func(t *testing.T) {
				b := base
				if b == "" {
					b = t.TempDir()
				} else {
					b += "/" + strings.ReplaceAll(t.Name(), "/", "-")
				}
				remote, _ := faultfs.Remote(t, b, fault.opt)
				tg := openTarget(t, ctx, "nas", remote)
				err := tg.PutFile(ctx, "daily", "2026-11-01T030000Z", "webui.db", src)
				if !errors.Is(err, fault.want) || !strings.Contains(err.Error(), "on target nas: target nas "+kindPhrase[fault.want]) {
					t.Errorf("PutFile: %v, want %v", err, fault.want)
				}
				_, err = tg.PutManifest(ctx, "daily", "2026-11-01T030000Z", testManifest())
				if !errors.Is(err, fault.want) {
					t.Errorf("PutManifest: %v, want %v", err, fault.want)
				}
			})
		}
	}
	t.Run("s3/wrong secret", func(t *testing.T) {
		remote := strings.Replace(s3, s3test.SecretAccessKey, "not-the-secret", 1)
		if remote == s3 {
			t.Fatal("the test S3 remote does not carry the secret key")
		}
		tg := openTarget(t, ctx, "b2", remote)
		err := tg.PutFile(ctx, "daily", "2026-11-01T030000Z", "webui.db", src)
		if !errors.Is(err, ErrTargetCredentials) || !strings.Contains(err.Error(), "target b2 rejects the credentials") {
			t.Errorf("PutFile: %v, want the credentials named", err)
		}
		if _, err := tg.ListSnapshots(ctx, "daily"); !errors.Is(err, ErrTargetCredentials) {
			t.Errorf("ListSnapshots: %v, want the credentials named", err)
		}
	})
	t.Run("s3/nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		// A refused connection is retried (rclone's low-level retries, with
		// the s3 backend's pacer sleeping in between): one try is enough.
		ctx, ci := fs.AddConfig(ctx)
		ci.LowLevelRetries = 1
		remote := fmt.Sprintf(":s3,provider=Rclone,endpoint='http://%s',access_key_id=x,secret_access_key=y:bucket", addr)
		tg := openTarget(t, ctx, "gone", remote)
		if _, err := tg.ListSnapshots(ctx, "daily"); !errors.Is(err, ErrTargetUnreachable) {
			t.Errorf("ListSnapshots: %v, want unreachable", err)
		}
	})
}
