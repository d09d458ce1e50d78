package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// FuzzDecode feeds arbitrary bytes to Decode and, for what decodes, to
// Format. Invariants: no panic or hang; a Policy exactly when there is no
// error; every error points at a place in the file (validate prints
// FILE:LINE,COL); env() values never appear in a diagnostic; and owui fmt
// keeps a valid policy valid.
func FuzzDecode(f *testing.F) {
	for _, pattern := range []string{"../examples/*.hcl", "testdata/error-files/*.hcl"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, path := range files {
			src, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Add(Starter(""))
	f.Add([]byte("target \"t\" {\n  remote = <<EOT\n/srv/${upper(\"x\")}\nEOT\n}\n"))
	f.Add([]byte("time_zone = \"Europe/Berlin\"\nbackup \"b\" {\n  instance = instance.i\n  to = [target.t]\n  schedule = \"0 3 * * 1-5\"\n  keep { within = \"1y6m2d12h\" }\n}\n"))

	opts := DecodeOptions{LookupEnv: errorFixtureEnv, BaseDir: "/etc/owui", DefaultLocation: time.UTC}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, diags := Decode("fuzz.hcl", src, opts)
		if (p == nil) != diags.HasErrors() {
			t.Fatalf("Decode returned policy %v with diagnostics %v", p != nil, diags)
		}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && (d.Subject == nil || d.Subject.Filename != "fuzz.hcl" || d.Subject.Start.Line < 1) {
				t.Errorf("error %q has no place in the file: %#v", d.Summary, d.Subject)
			}
			if !bytes.Contains(src, []byte(testSecret)) && strings.Contains(d.Summary+d.Detail, testSecret) {
				t.Errorf("diagnostic leaks the env() secret: %s: %s", d.Summary, d.Detail)
			}
		}
		if p == nil {
			return
		}
		formatted := Format(src)
		if _, diags := Decode("fuzz.hcl", formatted, opts); diags.HasErrors() {
			t.Fatalf("Format broke a valid policy: %s\n--- source:\n%s\n--- formatted:\n%s", diags, src, formatted)
		}
	})
}
