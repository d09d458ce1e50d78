package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// policyOpts ignores what cannot be compared structurally; the tests check
// Location and Cron on their own.
var policyOpts = cmp.Options{
	cmpopts.IgnoreTypes(hcl.Range{}),
	cmpopts.IgnoreFields(Policy{}, "Location"),
	cmpopts.IgnoreFields(Backup{}, "Cron"),
}

func TestDecode(t *testing.T) {
	env := map[string]string{
		"OWUI_CRYPT_PASSWORD": "s3cret",
		"OWUI_BUCKET":         "OpenWebUI",
	}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }

	tests := map[string]struct {
		src  string
		want *Policy
	}{
		"defaults": {
			src: `
instance "main" {
  data_dir = "/opt/open-webui"
}
target "nas" {
  remote = "/mnt/nas"
}
backup "daily" {
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
}
notify "ops" {
  url = "ntfy://ntfy.sh/owui"
}
`,
			want: &Policy{
				Filename:  "owui.hcl",
				Instances: []*Instance{{Name: "main", DataDir: "/opt/open-webui"}},
				Targets:   []*Target{{Name: "nas", Remote: "/mnt/nas"}},
				Backups: []*Backup{{
					Name: "daily", Instance: "main", To: []string{"nas"},
					Every:       24 * time.Hour,
					Exclude:     []string{"cache/**"},
					Consistency: ConsistencyOnline, Compression: CompressionNone,
				}},
				Notifies: []*Notify{{Name: "ops", URL: "ntfy://ntfy.sh/owui", On: []string{"failure"}}},
			},
		},
		"env, functions and relative paths": {
			src: `
instance "main" {
  data_dir  = "data/../open-webui"
  container = lower("Open-WebUI")
}
target "b2" {
  remote = "b2:${env("OWUI_BUCKET")}-backups"
  crypt {
    password = env("OWUI_CRYPT_PASSWORD")
    salt     = format("%s-salt", env("OWUI_CRYPT_PASSWORD"))
  }
}
target "local" {
  remote = "./backups"
}
target "conn" {
  remote = ":s3,provider=Minio:bucket"
}
backup "daily" {
  instance = instance.main
  to       = [target.local, target.b2, target.conn]
  every    = "1d12h"
  include  = concat(["webui.db"], ["uploads/**"])
  exclude  = []
}
`,
			want: &Policy{
				Filename:  "owui.hcl",
				Instances: []*Instance{{Name: "main", DataDir: "/etc/owui/open-webui", Container: "open-webui"}},
				Targets: []*Target{
					{Name: "b2", Remote: "b2:OpenWebUI-backups", Crypt: &Crypt{Password: "s3cret", Salt: "s3cret-salt"}},
					{Name: "conn", Remote: ":s3,provider=Minio:bucket"},
					{Name: "local", Remote: "/etc/owui/backups"},
				},
				Backups: []*Backup{{
					Name: "daily", Instance: "main", To: []string{"local", "b2", "conn"},
					Every:       36 * time.Hour,
					Include:     []string{"webui.db", "uploads/**"},
					Consistency: ConsistencyOnline, Compression: CompressionNone,
				}},
			},
		},
		"keep, schedules and sorting": {
			src: `
time_zone = "Europe/Berlin"
instance "main" {
  docker_volume = "open-webui"
  container     = "open-webui"
}
target "nas" {
  remote = "/mnt/nas"
}
target "b2" {
  remote = "b2:bucket"
}
backup "weekly" {
  instance    = instance.main
  to          = [target.nas]
  schedule    = "weekly"
  consistency = "stop"
  keep {
    within = "1y6m2d12h"
  }
}
backup "daily" {
  instance    = instance.main
  to          = [target.b2, target.nas]
  schedule    = "0 3 * * *"
  exclude     = ["cache/**", "audit.log"]
  consistency = "pause"
  keep {
    last    = 3
    hourly  = 0
    daily   = 7
    weekly  = 4
    monthly = -1
    yearly  = -1
  }
}
notify "ops" {
  url = "https://hooks.example.com/owui"
  on  = ["success", "failure", "success"]
}
`,
			want: &Policy{
				Filename:  "owui.hcl",
				Instances: []*Instance{{Name: "main", DockerVolume: "open-webui", Container: "open-webui"}},
				Targets:   []*Target{{Name: "b2", Remote: "b2:bucket"}, {Name: "nas", Remote: "/mnt/nas"}},
				Backups: []*Backup{
					{
						Name: "daily", Instance: "main", To: []string{"b2", "nas"},
						Schedule:    "0 3 * * *",
						Exclude:     []string{"cache/**", "audit.log"},
						Consistency: ConsistencyPause, Compression: CompressionNone,
						Keep: &Keep{Last: 3, Daily: 7, Weekly: 4, Monthly: -1, Yearly: -1},
					},
					{
						Name: "weekly", Instance: "main", To: []string{"nas"},
						Schedule:    "weekly",
						Exclude:     []string{"cache/**"},
						Consistency: ConsistencyStop, Compression: CompressionNone,
						Keep: &Keep{Within: Within{Years: 1, Months: 6, Days: 2, Hours: 12}},
					},
				},
				Notifies: []*Notify{{Name: "ops", URL: "https://hooks.example.com/owui", On: []string{"failure", "success"}}},
			},
		},
		"container or compose project alone as the source": {
			src: `
instance "solo" {
  container = "open-webui"
}
instance "stack" {
  compose_project = "owui-stack"
}
target "nas" {
  remote = "/mnt/nas"
}
backup "cold" {
  instance    = instance.stack
  to          = [target.nas]
  every       = "7d"
  consistency = "stop"
}
backup "warm" {
  instance    = instance.solo
  to          = [target.nas]
  every       = "24h"
  consistency = "pause"
}
`,
			want: &Policy{
				Filename: "owui.hcl",
				Instances: []*Instance{
					{Name: "solo", Container: "open-webui"},
					{Name: "stack", ComposeProject: "owui-stack"},
				},
				Targets: []*Target{{Name: "nas", Remote: "/mnt/nas"}},
				Backups: []*Backup{
					{Name: "cold", Instance: "stack", To: []string{"nas"}, Every: 7 * 24 * time.Hour, Exclude: []string{"cache/**"}, Consistency: ConsistencyStop, Compression: CompressionNone},
					{Name: "warm", Instance: "solo", To: []string{"nas"}, Every: 24 * time.Hour, Exclude: []string{"cache/**"}, Consistency: ConsistencyPause, Compression: CompressionNone},
				},
			},
		},
		"triggers and notification events": {
			src: `
instance "main" {
  data_dir = "/opt/open-webui"
}
target "nas" {
  remote = "/mnt/nas"
}
backup "daily" {
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
  trigger {
    on_change    = true
    debounce     = "30s"
    min_interval = "2h"
  }
}
backup "hourly" {
  instance = instance.main
  to       = [target.nas]
  every    = "1h"
  trigger {
    on_change = true
  }
  verify {
    every = "7d"
  }
}
backup "drilled" {
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
  verify {
    every     = "168h"
    read_data = true
  }
}
notify "all" {
  url             = "ntfy://ntfy.sh/owui"
  healthcheck_url = "https://hc-ping.com/abc/"
  on              = ["stale", "verify_failed", "drift", "success", "failure"]
}
notify "hc" {
  healthcheck_url = "https://hc-ping.com/def"
}
`,
			want: &Policy{
				Filename:  "owui.hcl",
				Instances: []*Instance{{Name: "main", DataDir: "/opt/open-webui"}},
				Targets:   []*Target{{Name: "nas", Remote: "/mnt/nas"}},
				Backups: []*Backup{
					{
						Name: "daily", Instance: "main", To: []string{"nas"},
						Every: 24 * time.Hour, Exclude: []string{"cache/**"}, Consistency: ConsistencyOnline, Compression: CompressionNone,
						Trigger: &Trigger{OnChange: true, Debounce: 30 * time.Second, MinInterval: 2 * time.Hour},
					},
					{
						Name: "drilled", Instance: "main", To: []string{"nas"},
						Every: 24 * time.Hour, Exclude: []string{"cache/**"}, Consistency: ConsistencyOnline, Compression: CompressionNone,
						Verify: &Verify{Every: 168 * time.Hour, ReadData: true},
					},
					{
						Name: "hourly", Instance: "main", To: []string{"nas"},
						Every: time.Hour, Exclude: []string{"cache/**"}, Consistency: ConsistencyOnline, Compression: CompressionNone,
						Trigger: &Trigger{OnChange: true, Debounce: DefaultDebounce, MinInterval: DefaultMinInterval},
						Verify:  &Verify{Every: 168 * time.Hour},
					},
				},
				Notifies: []*Notify{
					{
						Name: "all", URL: "ntfy://ntfy.sh/owui", HealthcheckURL: "https://hc-ping.com/abc",
						On: []string{"drift", "failure", "stale", "success", "verify_failed"},
					},
					{Name: "hc", HealthcheckURL: "https://hc-ping.com/def", On: []string{"failure"}},
				},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, diags := Decode("owui.hcl", []byte(tc.src), DecodeOptions{
				LookupEnv: lookup, BaseDir: "/etc/owui", DefaultLocation: time.UTC,
			})
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics: %s", diags)
			}
			if diff := cmp.Diff(tc.want, got, policyOpts); diff != "" {
				t.Errorf("policy (-want +got):\n%s", diff)
			}
			for _, b := range got.Backups {
				if (b.Schedule != "") != (b.Cron != nil) {
					t.Errorf("backup %s: Schedule %q but Cron %v", b.Name, b.Schedule, b.Cron)
				}
			}
		})
	}
}

func TestDecodeLocationAndSchedule(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	const body = `
instance "main" {
  data_dir = "/opt/open-webui"
}
target "nas" {
  remote = "/mnt/nas"
}
backup "b" {
  instance = instance.main
  to       = [target.nas]
  schedule = %q
}
`
	tests := map[string]struct {
		timeZone string // empty: none in the policy
		defLoc   *time.Location
		schedule string
		now      time.Time
		wantLoc  string
		wantNext time.Time
	}{
		// 2026-03-29 is the day Berlin moves to summer time: 03:00 CEST is 01:00 UTC.
		"cron across a DST switch": {
			timeZone: "Europe/Berlin", defLoc: tokyo, schedule: "0 3 * * *",
			now:     time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC),
			wantLoc: "Europe/Berlin", wantNext: time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),
		},
		"daily in the default location": {
			defLoc: tokyo, schedule: "daily",
			now:     time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC), // 23:00 in Tokyo
			wantLoc: "Asia/Tokyo", wantNext: time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC),
		},
		"weekly is Sunday midnight": {
			timeZone: "UTC", schedule: "weekly",
			now:     time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC), // a Thursday
			wantLoc: "UTC", wantNext: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC),
		},
		"monthly": {
			timeZone: "Europe/Berlin", schedule: "monthly",
			now:     time.Date(2026, 11, 26, 3, 0, 0, 0, berlin),
			wantLoc: "Europe/Berlin", wantNext: time.Date(2026, 12, 1, 0, 0, 0, 0, berlin),
		},
		"next is strictly after": {
			timeZone: "UTC", schedule: "hourly",
			now:     time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC),
			wantLoc: "UTC", wantNext: time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := strings.Replace(body, "%q", `"`+tc.schedule+`"`, 1)
			if tc.timeZone != "" {
				src = `time_zone = "` + tc.timeZone + `"` + "\n" + src
			}
			p, diags := Decode("owui.hcl", []byte(src), DecodeOptions{DefaultLocation: tc.defLoc})
			if len(diags) > 0 {
				t.Fatalf("unexpected diagnostics: %s", diags)
			}
			if got := p.Location.String(); got != tc.wantLoc {
				t.Errorf("Location = %s, want %s", got, tc.wantLoc)
			}
			next := p.Backups[0].Cron.Next(tc.now)
			if !next.Equal(tc.wantNext) {
				t.Errorf("Next(%s) = %s, want %s", tc.now, next, tc.wantNext)
			}
			if next.Location() != tc.now.Location() {
				t.Errorf("Next returned location %s, want the argument's %s", next.Location(), tc.now.Location())
			}
		})
	}
}

func TestDecodeDefaultLocationIsLocal(t *testing.T) {
	p, diags := Decode("owui.hcl", []byte(`instance "main" { data_dir = "/x" }`), DecodeOptions{})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics: %s", diags)
	}
	if p.Location != time.Local {
		t.Errorf("Location = %v, want time.Local", p.Location)
	}
}

func TestDecodeDeclRange(t *testing.T) {
	src := "instance \"main\" {\n  data_dir = \"/x\"\n}\n\ntarget \"t\" {\n  remote = \"/y\"\n}\n"
	p, diags := Decode("dir/owui.hcl", []byte(src), DecodeOptions{})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics: %s", diags)
	}
	for name, got := range map[string]hcl.Range{"instance": p.Instances[0].DeclRange, "target": p.Targets[0].DeclRange} {
		want := map[string]int{"instance": 1, "target": 5}[name]
		if got.Filename != "dir/owui.hcl" || got.Start.Line != want {
			t.Errorf("%s DeclRange = %s, want dir/owui.hcl line %d", name, got, want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OWUI_TEST_LOADFILE_PASSWORD", "pw")
	path := filepath.Join(dir, "owui.hcl")
	src := `
instance "main" {
  data_dir = "data"
}
target "local" {
  remote = "backups"
  crypt {
    password = env("OWUI_TEST_LOADFILE_PASSWORD")
  }
}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, diags := LoadFile(path)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics: %s", diags)
	}
	if got, want := p.Instances[0].DataDir, filepath.Join(dir, "data"); got != want {
		t.Errorf("DataDir = %q, want %q", got, want)
	}
	if got, want := p.Targets[0].Remote, filepath.Join(dir, "backups"); got != want {
		t.Errorf("Remote = %q, want %q", got, want)
	}
	if got := p.Targets[0].Crypt.Password; got != "pw" {
		t.Errorf("Password = %q, want the environment's value", got)
	}

	_, diags = LoadFile(filepath.Join(dir, "missing.hcl"))
	if len(diags) != 1 || diags[0].Summary != "Cannot read policy file" {
		t.Errorf("missing file: diagnostics %v, want one Cannot read policy file", diags)
	}
}

func TestIsLocalRemote(t *testing.T) {
	tests := map[string]bool{
		"/mnt/nas":                  true,
		"relative/dir":              true,
		"./a:b":                     true,
		"/srv/with:colon":           true,
		"b2:bucket":                 false,
		"b2:":                       false,
		"nas-sftp:/volume1/backups": false,
		":s3,provider=Minio:bucket": false,
		":local:/tmp/x":             false,
	}
	for remote, want := range tests {
		if got := IsLocalRemote(remote); got != want {
			t.Errorf("IsLocalRemote(%q) = %v, want %v", remote, got, want)
		}
	}
}
