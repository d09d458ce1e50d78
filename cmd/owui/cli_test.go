package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/owui/owui/state"
)

// TestBrokenPoliciesExit1 runs validate on every error fixture of the config
// package: each must exit 1 and print FILE:LINE,COL: Error: SUMMARY for every
// line that carries a "# ERROR: SUMMARY" comment, and never a secret.
func TestBrokenPoliciesExit1(t *testing.T) {
	const secret = "hunter2-secret"
	t.Setenv("OWUI_TEST_SECRET", secret)
	t.Setenv("OWUI_EMPTY", "")
	files, err := filepath.Glob("../../config/testdata/error-files/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("%d error fixtures, want at least 15", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, out, errs := cli(t, "validate", "-f", f)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
			}
			for _, want := range errorLines(t, f) {
				re := regexp.MustCompile(regexp.QuoteMeta(f) + `:` + strconv.Itoa(want.line) + `,\d+: Error: ` + regexp.QuoteMeta(want.summary))
				if !re.MatchString(errs) {
					t.Errorf("stderr lacks %s:%d,COL: Error: %s\n%s", f, want.line, want.summary, errs)
				}
			}
			if strings.Contains(errs+out, secret) {
				t.Errorf("output shows the secret:\n%s", errs)
			}
		})
	}
}

type wantDiag struct {
	line    int
	summary string
}

// errorLines finds the fixture's "# ERROR: summary" comments.
func errorLines(t *testing.T, path string) []wantDiag {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []wantDiag
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		if _, s, ok := strings.Cut(sc.Text(), "# ERROR: "); ok {
			out = append(out, wantDiag{n, strings.TrimSpace(s)})
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no # ERROR: comment", path)
	}
	return out
}

func minimalPolicy(t *testing.T) (dir string, args []string) {
	t.Helper()
	dir = t.TempDir()
	inst := genInstance(t, dir)
	p := writePolicy(t, dir, `
instance "main" {
  data_dir = "`+inst+`"
}
target "local" {
  remote = "`+filepath.Join(dir, "backups")+`"
}
backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "24h"
  keep {
    last = 2
  }
}
`)
	return dir, []string{"-f", p}
}

// TestApplyLockedExits3 holds the state lock as another live process would
// and expects apply to exit 3 naming the holder.
func TestApplyLockedExits3(t *testing.T) {
	dir, f := minimalPolicy(t)
	st, err := state.Open(filepath.Join(dir, ".owui"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	host, _ := os.Hostname()
	unlock, _, err := st.Lock(t.Context(), state.LockHolder{PID: os.Getppid(), Host: host, Command: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, append(f, "apply", "--auto-approve")...)
	if code != 3 {
		t.Fatalf("apply while locked: exit %d, want 3\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, strconv.Itoa(os.Getppid())) {
		t.Errorf("lock error does not name the holder's pid %d: %s", os.Getppid(), errs)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := cli(t, append(f, "apply", "--auto-approve")...); code != 0 {
		t.Fatalf("apply after unlock: exit %d\n%s%s", code, out, errs)
	}
}

// TestSavedPlan applies a saved plan, and refuses one made before the policy changed.
func TestSavedPlan(t *testing.T) {
	dir, f := minimalPolicy(t)
	planFile := filepath.Join(dir, "plan.json")
	if code, out, errs := cli(t, append(f, "plan", "--out", planFile)...); code != 0 {
		t.Fatalf("plan --out: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, append(f, "apply", planFile)...); code != 0 {
		t.Fatalf("apply PLANFILE: exit %d\n%s%s", code, out, errs)
	}
	// The world changed (a snapshot now exists): the same plan is stale.
	code, _, errs := cli(t, append(f, "apply", planFile)...)
	if code != 1 || !strings.Contains(errs, "changed since the plan was saved") {
		t.Fatalf("stale plan: exit %d, stderr %s", code, errs)
	}
}

// TestApplyWithoutTTYNeedsApproval refuses to apply unattended without --auto-approve.
func TestApplyWithoutTTYNeedsApproval(t *testing.T) {
	_, f := minimalPolicy(t)
	code, _, errs := cli(t, append(f, "apply")...)
	if code != 1 || !strings.Contains(errs, "--auto-approve") {
		t.Fatalf("apply without a terminal: exit %d, stderr %s", code, errs)
	}
}

// TestInitValidateFmt: the starter policy validates and is canonically formatted.
func TestInitValidateFmt(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "owui.hcl")
	if code, out, errs := cli(t, "init", "-f", p, "--data-dir", filepath.Join(dir, "data")); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := cli(t, "init", "-f", p); code != 1 {
		t.Errorf("init over an existing policy: exit %d, want 1", code)
	}
	if code, out, errs := cli(t, "validate", "-f", p); code != 0 {
		t.Fatalf("validate starter: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, "fmt", "--check", "-f", p); code != 0 {
		t.Fatalf("fmt --check starter: exit %d\n%s%s", code, out, errs)
	}
	ugly := "backup   \"x\"   {\nevery=\"1h\"\n}\n"
	if err := os.WriteFile(p, []byte(ugly), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := cli(t, "fmt", "--check", "-f", p); code != 1 {
		t.Errorf("fmt --check on unformatted file: exit %d, want 1", code)
	}
	if code, _, errs := cli(t, "fmt", "-f", p); code != 0 {
		t.Fatalf("fmt: exit %d %s", code, errs)
	}
	if got, _ := os.ReadFile(p); string(got) == ugly {
		t.Errorf("fmt did not rewrite the file")
	}
}

// TestDemo runs the README's first command at a tiny scale.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	code, out, errs := cli(t, "demo", "--dir", dir, "--scale", "0.002")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "identical byte for byte") {
		t.Errorf("demo did not report the comparison:\n%s", out)
	}
}

// TestRelativePaths runs from the policy's directory with every path
// relative, as a user with owui.hcl in the current directory does.
func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	genInstance(t, dir)
	writePolicy(t, dir, `
instance "main" {
  data_dir = "instance"
}
target "local" {
  remote = "backups"
}
backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "1d"
}
`)
	t.Chdir(filepath.Dir(dir))
	rel := filepath.Base(dir)
	if code, out, errs := cli(t, "apply", "--auto-approve", "--chdir", rel); code != 0 {
		t.Fatalf("apply --chdir: exit %d\n%s%s", code, out, errs)
	}
	t.Chdir(dir)
	if code, out, errs := cli(t, "plan", "--detailed-exitcode"); code != 0 {
		t.Fatalf("plan in the policy's directory: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, "restore", "daily", "--to", "restored"); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "restored", "webui.db")); err != nil {
		t.Fatal(err)
	}
}

// TestApplyAsksOnTerminal: on a terminal apply proceeds only on "yes".
func TestApplyAsksOnTerminal(t *testing.T) {
	_, f := minimalPolicy(t)
	for _, answer := range []string{"no\n", "yes\n"} {
		var out, errb strings.Builder
		code := run(t.Context(), append(f, "apply"), streams{In: strings.NewReader(answer), Out: &out, Err: &errb, InTTY: true})
		switch answer {
		case "no\n":
			if code != 1 || !strings.Contains(errb.String(), "apply cancelled") {
				t.Fatalf("answer no: exit %d, stderr %s", code, errb.String())
			}
		case "yes\n":
			if code != 0 || !strings.Contains(out.String(), "Apply complete: 1 snapshotted") {
				t.Fatalf("answer yes: exit %d\n%s%s", code, out.String(), errb.String())
			}
		}
		if !strings.Contains(out.String(), "Only 'yes' will be accepted") {
			t.Errorf("no prompt shown:\n%s", out.String())
		}
	}
}
