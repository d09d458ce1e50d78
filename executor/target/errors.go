package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/rclone/rclone/backend/b2/api"
	"github.com/rclone/rclone/lib/file"
)

// What a target can say about itself rather than about one file. An error
// of a Target's method matches one of these with errors.Is when the target
// reported it; the error's text then names the target and the condition,
// e.g. "target nas is full (…: no space left on device)".
var (
	ErrTargetFull     = errors.New("target is full")
	ErrTargetReadOnly = errors.New("target is read-only or refuses writes")
	// ErrTargetDenied is a read the target refuses (permission denied).
	ErrTargetDenied      = errors.New("target refuses access")
	ErrTargetCredentials = errors.New("target rejects the credentials")
	ErrTargetUnreachable = errors.New("target is unreachable")
)

// Error is a failure that says something about a whole target.
type Error struct {
	Target string
	// Kind is one of the ErrTarget* sentinels.
	Kind error
	// Err is what the backend returned.
	Err error
}

// Error says which target, what about it, and what the backend said.
func (e *Error) Error() string {
	return fmt.Sprintf("target %s %s (%v)", e.Target, kindPhrase[e.Kind], e.Err)
}

// Unwrap makes both the kind and the backend's error visible to errors.Is
// and errors.As.
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

var kindPhrase = map[error]string{
	ErrTargetFull:        "is full",
	ErrTargetReadOnly:    "is read-only or refuses writes",
	ErrTargetDenied:      "refuses access",
	ErrTargetCredentials: "rejects the credentials",
	ErrTargetUnreachable: "is unreachable",
}

// Error codes of S3 and S3-compatible services (AWS, Ceph RGW, MinIO,
// Wasabi) and of Backblaze B2's native API, by what they say about the target.
var apiCodes = map[string]error{
	"QuotaExceeded":                  ErrTargetFull,
	"XMinioStorageFull":              ErrTargetFull,
	"XMinioAdminBucketQuotaExceeded": ErrTargetFull,
	"storage_cap_exceeded":           ErrTargetFull,
	"cap_exceeded":                   ErrTargetFull,
	"AccessDenied":                   ErrTargetReadOnly,
	"AllAccessDisabled":              ErrTargetReadOnly,
	"access_denied":                  ErrTargetReadOnly,
	"unauthorized":                   ErrTargetReadOnly,
	"InvalidAccessKeyId":             ErrTargetCredentials,
	"SignatureDoesNotMatch":          ErrTargetCredentials,
	"ExpiredToken":                   ErrTargetCredentials,
	"InvalidToken":                   ErrTargetCredentials,
	"bad_auth_token":                 ErrTargetCredentials,
}

// writeFailed classifies the error of an operation that writes to or
// deletes from the target.
func (t *Target) writeFailed(err error) error { return classify(t.name, err, true) }

// readFailed classifies the error of an operation that only reads.
func (t *Target) readFailed(err error) error { return classify(t.name, err, false) }

// sourceFailed is how rclone's operations.Copy reports that the object
// being sent could not be opened: the local source's fault, not the
// target's, whatever errno it carries.
const sourceFailed = "failed to open source object"

// classify returns err as an *Error naming target when it says the target
// is full, read-only, refuses access, rejects the credentials or cannot be
// reached, and err unchanged otherwise (a cancelled context included).
func classify(target string, err error, writing bool) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), sourceFailed) {
		return err
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	kind := kindOf(err)
	if kind == ErrTargetReadOnly && !writing {
		kind = ErrTargetDenied
	}
	if kind == nil {
		return err
	}
	return &Error{Target: target, Kind: kind, Err: err}
}

func kindOf(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, file.ErrDiskFull):
		return ErrTargetFull
	case errors.Is(err, syscall.EROFS), errors.Is(err, os.ErrPermission):
		return ErrTargetReadOnly
	}
	// The S3 backend passes up the AWS SDK's smithy.APIError.
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		if kind, ok := apiCodes[coded.ErrorCode()]; ok {
			return kind
		}
	}
	var b2 *api.Error
	if errors.As(err, &b2) {
		if kind, ok := apiCodes[b2.Code]; ok {
			return kind
		}
	}
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns),
		errors.As(err, &op) && op.Op == "dial",
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTDOWN), errors.Is(err, syscall.ENETDOWN):
		return ErrTargetUnreachable
	}
	return nil
}
