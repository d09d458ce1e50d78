package target_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/config/obscure"
	"github.com/rclone/rclone/fs/sync"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/executor/target/targettest"
	"github.com/owui/owui/internal/s3test"
)

// aliasRoot is where the "owuitest" remote of the test rclone.conf points.
var aliasRoot string

// TestMain points RCLONE_CONFIG at a config with an alias remote before any
// target is opened: rclone reads the config path once per process.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "owui-target-test")
	if err != nil {
		panic(err)
	}
	aliasRoot = filepath.Join(dir, "aliased")
	conf := filepath.Join(dir, "rclone.conf")
	if err := os.WriteFile(conf, []byte("[owuitest]\ntype = alias\nremote = "+aliasRoot+"\n"), 0o600); err != nil {
		panic(err)
	}
	_ = os.Setenv("RCLONE_CONFIG", conf)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var crypt = &config.Crypt{Password: "correct horse battery staple", Salt: "pepper"}

func open(t *testing.T, remote string, c *config.Crypt) *target.Target {
	t.Helper()
	tg, err := target.Open(context.Background(), &config.Target{Name: "test", Remote: remote, Crypt: c})
	if err != nil {
		t.Fatalf("Open(%s): %v", target.Redact(remote), err)
	}
	return tg
}

func startS3(t *testing.T) string { return s3test.Start(t) }

func localDir(t *testing.T) string { return filepath.Join(t.TempDir(), "new", "target") }

var aliasN atomic.Int64

// kinds are the target kinds the conformance suite runs against; each
// returns a fresh, empty remote.
var kinds = map[string]struct {
	remote func(t *testing.T) string
	crypt  *config.Crypt
	// reuse is how CopyExisting re-uses files on this kind.
	reuse string
}{
	"local":        {remote: localDir, reuse: "link"},
	"named-alias":  {remote: func(*testing.T) string { return fmt.Sprintf("owuitest:t%d", aliasN.Add(1)) }, reuse: "link"},
	"s3":           {remote: startS3, reuse: "copy"},
	"crypt-local":  {remote: localDir, crypt: crypt, reuse: "link"},
	"crypt-s3":     {remote: startS3, crypt: crypt, reuse: "copy"},
	"crypt-nosalt": {remote: localDir, crypt: &config.Crypt{Password: "only a password"}, reuse: "link"},
}

func TestConformance(t *testing.T) {
	for name, k := range kinds {
		t.Run(name, func(t *testing.T) {
			targettest.Run(t, func(t *testing.T) *target.Target { return open(t, k.remote(t), k.crypt) })
		})
	}
}

// TestCopyExistingReuses checks each kind re-uses files the cheap way rather
// than falling back to an upload.
func TestCopyExistingReuses(t *testing.T) {
	for name, k := range kinds {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tg := open(t, k.remote(t), k.crypt)
			p := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := tg.PutFile(ctx, "daily", "a", "uploads/f", p); err != nil {
				t.Fatal(err)
			}
			ok, err := tg.CopyExisting(ctx, "daily", "a", "b", "uploads/f")
			if !ok || err != nil {
				t.Fatalf("CopyExisting = %v, %v; want true, nil", ok, err)
			}
			s := tg.Stats()
			got := map[bool]string{true: "link", false: "copy"}[s.FilesLinked == 1]
			if got != k.reuse || s.FilesLinked+s.FilesCopied != 1 {
				t.Errorf("Stats = %+v, want one %s", s, k.reuse)
			}
			if tg.IsLocal() != (k.reuse == "link") {
				t.Errorf("IsLocal() = %v", tg.IsLocal())
			}
		})
	}
}

// TestCopyExistingLinksOverLeftovers: on a plain local target a file left
// in the way by a killed apply (same snapshot id) is replaced by the link,
// a link made twice stays one, and a missing source yields false without
// making the snapshot's directory.
func TestCopyExistingLinksOverLeftovers(t *testing.T) {
	ctx := context.Background()
	root := localDir(t)
	tg := open(t, root, nil)
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tg.PutFile(ctx, "daily", "a", "uploads/f", p); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "daily", "a", "uploads", "f")
	dst := filepath.Join(root, "daily", "b", "uploads", "f")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("half a leftover"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if ok, err := tg.CopyExisting(ctx, "daily", "a", "b", "uploads/f"); !ok || err != nil {
			t.Fatalf("CopyExisting = %v, %v; want true, nil", ok, err)
		}
		a, _ := os.Stat(src)
		b, _ := os.Stat(dst)
		if !os.SameFile(a, b) {
			t.Fatalf("%s is not a link to %s", dst, src)
		}
	}
	if ok, err := tg.CopyExisting(ctx, "daily", "a", "c", "uploads/missing"); ok || err != nil {
		t.Errorf("CopyExisting of a missing file = %v, %v; want false, nil", ok, err)
	}
	if _, err := os.Stat(filepath.Join(root, "daily", "c")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed link made its snapshot directory: %v", err)
	}
}

// TestCryptRestoresWithPlainRclone checks the contract that an encrypted
// snapshot restores with `rclone copy` through an ordinary crypt remote
// (rclone's defaults) with the same passwords, without owui.
func TestCryptRestoresWithPlainRclone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tg := open(t, dir, crypt)
	src := filepath.Join(t.TempDir(), "chroma")
	if err := os.WriteFile(src, []byte("segment bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tg.PutFile(ctx, "daily", "2026-11-26T030000Z", "vector_db/u1/data_level0.bin", src); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() == "daily" {
		t.Fatalf("target holds %v, want one directory with an encrypted name", entries)
	}
	remote := fmt.Sprintf(":crypt,remote='%s',password=%s,password2=%s:daily/2026-11-26T030000Z",
		dir, obscure.MustObscure(crypt.Password), obscure.MustObscure(crypt.Salt))
	fsrc, err := fs.NewFs(ctx, remote)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	fdst, err := fs.NewFs(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := sync.CopyDir(ctx, fdst, fsrc, false); err != nil {
		t.Fatalf("rclone copy: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(out, "vector_db", "u1", "data_level0.bin"))
	if err != nil || !bytes.Equal(got, []byte("segment bytes")) {
		t.Fatalf("restored %q, %v", got, err)
	}
}

func TestOpenCreatesLocalRoot(t *testing.T) {
	dir := localDir(t)
	open(t, dir, nil)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("Open did not create %s: %v", dir, err)
	}
}

func TestOpenErrorsHideSecrets(t *testing.T) {
	_, err := target.Open(context.Background(), &config.Target{Name: "bad", Remote: ":nosuchbackend,token=SEKRIT:x"})
	if err == nil {
		t.Fatal("Open of an unknown backend succeeded")
	}
	if strings.Contains(err.Error(), "SEKRIT") {
		t.Errorf("error %q shows the secret", err)
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]struct{ remote, want string }{
		"local path":   {"/mnt/nas/open-webui", "/mnt/nas/open-webui"},
		"named remote": {"b2:OpenWebUI-backups/x", "b2:OpenWebUI-backups/x"},
		"s3 connection string": {
			":s3,provider=AWS,access_key_id=AKIA123,secret_access_key=abc/def,region=eu-west-1:bucket/p",
			":s3,access_key_id=(sensitive),provider=AWS,region=eu-west-1,secret_access_key=(sensitive):bucket/p",
		},
		"quoted values": {
			":sftp,host=nas,user=me,pass='p,a:s''s',key_pem=\"-----BEGIN\":backups",
			":sftp,host=nas,key_pem=(sensitive),pass=(sensitive),user=me:backups",
		},
		"named remote with overrides": {
			"mys3,session_token=tok,endpoint='http://h:9000':b",
			"mys3,endpoint='http://h:9000',session_token=(sensitive):b",
		},
		"azure key":  {":azureblob,account=acct,key=c2VjcmV0:container", ":azureblob,account=acct,key=(sensitive):container"},
		"nested":     {":alias,remote=':s3,secret_access_key=X:b':p", ":alias,remote=':s3,secret_access_key=(sensitive):b':p"},
		"unparsable": {":s3,secret_access_key='unterminated:b", "<unparsable remote>"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := target.Redact(tc.remote); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.remote, got, tc.want)
			}
		})
	}
}

func TestStringRedactsSecrets(t *testing.T) {
	remote := s3test.Start(t)
	tg := open(t, remote, crypt)
	got := tg.String()
	for _, secret := range []string{s3test.SecretAccessKey, crypt.Password, crypt.Salt} {
		if strings.Contains(got, secret) {
			t.Errorf("String() = %q shows a secret", got)
		}
	}
	if !strings.Contains(got, "secret_access_key=(sensitive)") || !strings.HasSuffix(got, " (crypt)") {
		t.Errorf("String() = %q, want the redacted remote and (crypt)", got)
	}
}

// TestSendOnPlainLocalTarget: a plain local target hashes what it copies,
// takes an owned file by hard link with a copy's mode, refuses a file that
// is not the size expected, and replaces rather than writes through a file
// an older snapshot shares.
func TestSendOnPlainLocalTarget(t *testing.T) {
	ctx := context.Background()
	root := localDir(t)
	tg := open(t, root, nil)
	if !tg.HashesCopies() || !tg.CanReuse() {
		t.Fatalf("HashesCopies, CanReuse = %v, %v on a local directory", tg.HashesCopies(), tg.CanReuse())
	}
	if open(t, localDir(t), crypt).HashesCopies() {
		t.Errorf("a crypt target claims to hash what it copies")
	}
	src := filepath.Join(t.TempDir(), "upload")
	data := bytes.Repeat([]byte("owui "), 300000) // more than one copy buffer
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	sent, err := tg.Send(ctx, "daily", "a", "uploads/f", src, target.SendOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if sent.SHA256 != hex.EncodeToString(sum[:]) || sent.Linked {
		t.Errorf("Send = %+v, want the copy's sha256 %x", sent, sum)
	}
	dst := filepath.Join(root, "daily", "a", "uploads", "f")
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy differs: %v", err)
	}
	if _, err := tg.Send(ctx, "daily", "b", "uploads/f", src, target.SendOptions{Size: 3}); err == nil {
		t.Errorf("Send of a file of another size than listed succeeded")
	}

	sent, err = tg.Send(ctx, "daily", "b", "webui.db", src, target.SendOptions{Size: -1, Owned: true})
	if err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(root, "daily", "b", "webui.db")
	a, _ := os.Stat(src)
	b, _ := os.Stat(linked)
	if !sent.Linked || !os.SameFile(a, b) {
		t.Errorf("an owned file was not hard-linked: %+v", sent)
	}
	if b.Mode().Perm()&0o044 == 0 {
		t.Errorf("linked file has mode %v, want a copy's", b.Mode())
	}
	if st := tg.Stats(); st.FilesUploaded != 2 || st.BytesUploaded != 2*int64(len(data)) {
		t.Errorf("Stats = %+v, want 2 files of %d bytes", st, len(data))
	}

	// Replacing a file shared with an older snapshot leaves that one alone.
	if ok, err := tg.CopyExisting(ctx, "daily", "a", "c", "uploads/f"); !ok || err != nil {
		t.Fatalf("CopyExisting = %v, %v", ok, err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("other"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Send(ctx, "daily", "c", "uploads/f", other, target.SendOptions{Size: 5}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Errorf("the older snapshot's file changed")
	}
}
