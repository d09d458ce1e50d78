package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// testSecret is the value of OWUI_TEST_SECRET in the error fixtures; it must
// never show up in a diagnostic.
const testSecret = "hunter2-secret"

func errorFixtureEnv(name string) (string, bool) {
	v, ok := map[string]string{
		"OWUI_TEST_SECRET": testSecret,
		"OWUI_EMPTY":       "",
	}[name]
	return v, ok
}

// expectation is one diagnostic a fixture expects: "LINE: SUMMARY".
type expectation struct {
	Line    int
	Summary string
}

func (e expectation) String() string { return fmt.Sprintf("%d: %s", e.Line, e.Summary) }

// expectedErrors reads the "# ERROR: <summary>" comments of a fixture, as
// Terraform's error-files tests do.
func expectedErrors(t *testing.T, src []byte) []expectation {
	t.Helper()
	var want []expectation
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		if _, summary, ok := strings.Cut(sc.Text(), "# ERROR: "); ok {
			want = append(want, expectation{Line: line, Summary: strings.TrimSpace(summary)})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestErrorFiles decodes each broken policy and checks that the diagnostics
// are exactly the expected ones, at the expected lines, and well formed.
func TestErrorFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/error-files/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found %d error fixtures, want at least 20", len(files))
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".hcl"), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedErrors(t, src)
			if len(want) == 0 {
				t.Fatal("fixture has no # ERROR: comment")
			}
			p, diags := Decode(path, src, DecodeOptions{LookupEnv: errorFixtureEnv, BaseDir: "/etc/owui"})
			if p != nil {
				t.Errorf("Decode returned a policy along with errors")
			}
			var got []expectation
			for _, d := range diags {
				got = append(got, expectation{Line: d.Subject.Start.Line, Summary: d.Summary})
				checkDiagnostic(t, path, d)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\nall diagnostics:\n%s", diff, diags)
			}
		})
	}
}

func checkDiagnostic(t *testing.T, path string, d *hcl.Diagnostic) {
	t.Helper()
	if d.Severity != hcl.DiagError {
		t.Errorf("%s: severity %v, want error", d.Summary, d.Severity)
	}
	if d.Subject == nil {
		t.Errorf("%s: no subject range", d.Summary)
		return
	}
	if d.Subject.Filename != path {
		t.Errorf("%s: subject file %q, want %q", d.Summary, d.Subject.Filename, path)
	}
	if d.Subject.Start.Column < 1 {
		t.Errorf("%s: subject column %d", d.Summary, d.Subject.Start.Column)
	}
	if !strings.HasSuffix(d.Detail, ".") && !strings.HasSuffix(d.Detail, "?") {
		t.Errorf("%s: detail %q is not a full sentence", d.Summary, d.Detail)
	}
	if strings.Contains(d.Summary+d.Detail, testSecret) {
		t.Errorf("%s: diagnostic leaks the env() secret: %s", d.Summary, d.Detail)
	}
}
