package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/owui/owui/manifest"
	"github.com/owui/owui/planner"
)

// verifyCase is an instance backed up once to a local target by a policy
// with a weekly read-data drill: the first apply makes the snapshot and
// verifies it.
type verifyCase struct {
	args   []string // -f POLICY --state DIR
	target string   // the local target's backup directory (target/daily)
	id     string   // the snapshot
}

func newVerifyCase(t *testing.T) *verifyCase {
	t.Helper()
	dir := t.TempDir()
	inst := genInstance(t, dir)
	target := filepath.Join(dir, "backups")
	policy := writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "nas" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
  verify {
    every     = "168h"
    read_data = true
  }
}
`, inst, target))
	vc := &verifyCase{args: []string{"-f", policy, "--state", filepath.Join(dir, "state")}, target: filepath.Join(target, "daily")}
	code, out, errs := cli(t, append([]string{"apply", "--auto-approve"}, vc.args...)...)
	if code != 0 {
		t.Fatalf("apply exit %d:\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "? verify daily → nas") {
		t.Errorf("the first apply does not verify its snapshot:\n%s", out)
	}
	entries, err := os.ReadDir(vc.target)
	if err != nil || len(entries) != 1 {
		t.Fatalf("want one snapshot in %s: %v %v", vc.target, entries, err)
	}
	vc.id = entries[0].Name()
	return vc
}

func (vc *verifyCase) path(rel string) string {
	return filepath.Join(vc.target, vc.id, filepath.FromSlash(rel))
}

// file returns the first file of the snapshot under prefix.
func (vc *verifyCase) file(t *testing.T, prefix string) string {
	t.Helper()
	m := vc.manifest(t)
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, prefix) && f.Size > 0 {
			return f.Path
		}
	}
	t.Fatalf("no file under %s in the snapshot", prefix)
	return ""
}

func (vc *verifyCase) manifest(t *testing.T) *manifest.Manifest {
	t.Helper()
	data, err := os.ReadFile(vc.path(manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// rewrite replaces a file of the target through a new inode, so that no
// hard link (to other snapshots) sees the change.
func rewrite(t *testing.T, path string, edit func([]byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, edit(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func (vc *verifyCase) run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, out, errs := cli(t, append(args, vc.args...)...)
	return code, out + errs
}

// TestVerifyFlippedByte is the check: one flipped byte of an upload
// on the target passes the listing check, fails verify --read-data naming
// the file, and plan marks the snapshot and makes a new one due.
func TestVerifyFlippedByte(t *testing.T) {
	vc := newVerifyCase(t)
	if code, out := vc.run(t, "verify", "--read-data"); code != 0 {
		t.Fatalf("verify --read-data of a good snapshot: exit %d\n%s", code, out)
	}
	code, out := vc.run(t, "plan")
	if code != 0 || !strings.Contains(out, "No changes.") || !strings.Contains(out, "daily → nas: newest verified snapshot "+vc.id) {
		t.Fatalf("plan after a verified apply (exit %d):\n%s", code, out)
	}
	code, out = vc.run(t, "status", "--json")
	var st struct {
		Backups []statusJSON `json:"backups"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &st); err != nil || code != 0 {
		t.Fatalf("status --json (exit %d): %v\n%s", code, err, out)
	}
	if len(st.Backups) != 1 || st.Backups[0].NewestVerified != vc.id || st.Backups[0].NewestVerifiedAge == nil {
		t.Errorf("status --json newest_verified = %+v, want %s", st.Backups, vc.id)
	}

	upload := vc.file(t, "uploads/")
	rewrite(t, vc.path(upload), func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b })
	if code, out := vc.run(t, "verify"); code != 0 {
		t.Errorf("verify without --read-data sees a flipped byte (sizes are equal): exit %d\n%s", code, out)
	}
	code, out = vc.run(t, "verify", "--read-data")
	if code != 1 || !strings.Contains(out, "FAILED  daily/"+vc.id+" on nas") || !strings.Contains(out, upload+": sha256") {
		t.Fatalf("verify --read-data after a flipped byte in %s: exit %d\n%s", upload, code, out)
	}
	jp := planJSON(t, vc.args...)
	if len(jp.Verification) != 1 || len(jp.Verification[0].Failed) != 1 || jp.Verification[0].Failed[0] != vc.id {
		t.Errorf("plan --json verification = %+v, want %s failed", jp.Verification, vc.id)
	}
	if countActions(jp, string(planner.KindSnapshot)) != 1 {
		t.Errorf("a broken newest snapshot does not make a new one due: %+v", jp.Actions)
	}
	_, out = vc.run(t, "plan")
	if !strings.Contains(out, "daily/"+vc.id+" on nas failed verification") {
		t.Errorf("plan does not mark the broken snapshot:\n%s", out)
	}
}

// TestVerifyListingCatchesTruncatedAndMissing: the cheap check finds a
// truncated file and a deleted one, naming both.
func TestVerifyListingCatchesTruncatedAndMissing(t *testing.T) {
	vc := newVerifyCase(t)
	truncated := vc.file(t, "uploads/")
	rewrite(t, vc.path(truncated), func(b []byte) []byte { return b[:len(b)-1] })
	gone := vc.file(t, "vector_db/chroma.sqlite3")
	if err := os.Remove(vc.path(gone)); err != nil {
		t.Fatal(err)
	}
	code, out := vc.run(t, "verify")
	if code != 1 || !strings.Contains(out, truncated+": ") || !strings.Contains(out, gone+": missing on the target") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
}

// TestVerifySanityAndDrift edits the manifest on the target so that it no
// longer lists an upload and a vector segment (and deletes them): plan
// sees the changed manifest and re-verifies; the file and size checks pass
// and only the cross-checks of webui.db and chroma.sqlite3 catch it.
func TestVerifySanityAndDrift(t *testing.T) {
	vc := newVerifyCase(t)
	m := vc.manifest(t)
	upload := vc.file(t, "uploads/")
	var segments []string
	for _, f := range m.Files {
		if rest, ok := strings.CutPrefix(f.Path, "vector_db/"); ok {
			if seg, _, ok := strings.Cut(rest, "/"); ok && !contains(segments, seg) {
				segments = append(segments, seg)
			}
		}
	}
	if len(segments) == 0 {
		t.Fatal("the sample snapshot has no vector segment directory")
	}
	sort.Strings(segments)
	seg := segments[0]
	var kept []manifest.File
	for _, f := range m.Files {
		if f.Path == upload || strings.HasPrefix(f.Path, "vector_db/"+seg+"/") {
			continue
		}
		kept = append(kept, f)
	}
	m.Files = kept
	data, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(vc.path(upload)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(vc.path("vector_db/" + seg)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vc.path(manifest.FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}

	jp := planJSON(t, vc.args...)
	var drift *planner.JSONAction
	for i, a := range jp.Actions {
		if a.Action == "verify" && a.Snapshot == vc.id {
			drift = &jp.Actions[i]
		}
	}
	if drift == nil || drift.Reason != planner.ReasonManifestChanged {
		t.Fatalf("plan after editing the manifest on the target: %+v", jp.Actions)
	}
	if code, out := vc.run(t, "verify"); code != 0 {
		t.Errorf("the listing check of the edited manifest: exit %d\n%s", code, out)
	}
	code, out := vc.run(t, "verify", "--read-data")
	if code != 1 || !strings.Contains(out, upload+": missing from the snapshot, but webui.db's file row") ||
		!strings.Contains(out, "vector_db/"+seg+"/: missing from the snapshot, but chroma.sqlite3 names") {
		t.Fatalf("verify --read-data: exit %d\n%s", code, out)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
