package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// ImageRepo is the repository of the stand-in image; its tag is a hash
	// of the image's content, so an engine keeps one image per version of
	// the fake and a rebuild is needed only when fakeowui changes.
	ImageRepo = "owui-test/openwebui"
	// ImageVersion is the Open WebUI version the image claims in its labels.
	ImageVersion = "0.11.0"
	// SymlinkPath is a symlink in the image (to the secret key file), for
	// tests of copying refusals.
	SymlinkPath = "/app/backend/secret-key-link"
	entrypoint  = "/fakeowui"
)

// imageChanges are the Dockerfile instructions applied on import; the
// labels are those of the real ghcr.io/open-webui/open-webui image.
var imageChanges = []string{
	`ENTRYPOINT ["` + entrypoint + `"]`,
	`WORKDIR /app/backend`,
	`ENV ENV=prod PORT=8080`,
	`LABEL org.opencontainers.image.title=open-webui`,
	`LABEL org.opencontainers.image.source=https://github.com/open-webui/open-webui`,
	`LABEL org.opencontainers.image.version=` + ImageVersion,
}

var fake struct {
	once   sync.Once
	rootfs []byte
	tag    string
	err    error
	took   time.Duration
}

var imported sync.Map // host -> image reference, once imported or found

// Image returns the reference of the stand-in Open WebUI image on the test
// engine, building it the first time: the fakeowui program is built once
// per test binary (the go build cache makes later builds a link step),
// packed into a root file system tar in memory and imported through the
// Engine API unless the engine already has that tag.
func Image(t testing.TB) string {
	t.Helper()
	c := Client(t)
	fake.once.Do(func() {
		start := time.Now()
		fake.rootfs, fake.err = buildRootfs()
		if fake.err == nil {
			h := sha256.New()
			h.Write(fake.rootfs)
			h.Write([]byte(strings.Join(imageChanges, "\n")))
			fake.tag = hex.EncodeToString(h.Sum(nil))[:16]
		}
		fake.took = time.Since(start)
	})
	if fake.err != nil {
		t.Fatalf("dockertest: build the fake Open WebUI: %v", fake.err)
	}
	ref := ImageRepo + ":" + fake.tag
	if _, ok := imported.Load(c.Host()); ok {
		return ref
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	have, err := c.ImageExists(ctx, ref)
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	if !have {
		start := time.Now()
		if err := c.ImportImage(ctx, ref, bytes.NewReader(fake.rootfs), imageChanges); err != nil {
			t.Fatalf("dockertest: %v", err)
		}
		t.Logf("dockertest: built %s (go build and tar %s, import %s)", ref, fake.took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}
	imported.Store(c.Host(), ref)
	return ref
}

// fakeDir is the fakeowui package's source directory.
func fakeDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("find the dockertest source directory")
	}
	return filepath.Join(filepath.Dir(file), "fakeowui"), nil
}

// buildRootfs builds fakeowui as a static binary and returns a tar of a
// root file system holding it.
func buildRootfs() ([]byte, error) {
	dir, err := fakeDir()
	if err != nil {
		return nil, err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is needed to build %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp("", "owui-fakeowui-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "fakeowui")
	cmd := exec.Command(goBin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w\n%s", dir, err, b)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return rootfsTar(bin)
}

// rootfsTar lays out the image: the binary, Open WebUI's directories, the
// files the runtime bind-mounts over, and a symlink. Fixed times keep the
// tar, and so the tag, the same for the same binary.
func rootfsTar(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	for _, d := range []string{"app/", "app/backend/", "app/backend/data/", "etc/", "tmp/", "proc/", "sys/", "dev/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		body []byte
	}{
		{"fakeowui", 0o755, bin},
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/fakeowui\n")},
		{"etc/group", 0o644, []byte("root:x:0:\n")},
		{"etc/hosts", 0o644, nil},
		{"etc/hostname", 0o644, nil},
		{"etc/resolv.conf", 0o644, nil},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.body)), ModTime: mtime}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(SymlinkPath, "/"), Linkname: ".webui_secret_key", Mode: 0o777, ModTime: mtime}); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
