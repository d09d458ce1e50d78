package unitgen

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/owui/owui/config"
)

const policySrc = `
time_zone = "Europe/Berlin"
instance "main" {
  data_dir = "/opt/open-webui"
}
target "nas" {
  remote = "/mnt/nas/open webui"
}
backup "often" {
  instance = instance.main
  to       = [target.nas]
  every    = "90m"
}
backup "daily" {
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
}
backup "workdays" {
  instance = instance.main
  to       = [target.nas]
  schedule = "30 3 * * 1-5"
}
backup "weekly" {
  instance = instance.main
  to       = [target.nas]
  schedule = "weekly"
}
`

func decode(t *testing.T, src string) *config.Policy {
	t.Helper()
	p, diags := config.Decode("owui.hcl", []byte(src), config.DecodeOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

func TestStepFor(t *testing.T) {
	for in, want := range map[string]int{
		"90m": 30, "24h": 1440, "7d": 1440, "6h": 360, "5h": 60, "45m": 15, "1m": 1, "90s": 1, "2w": 1440, "7m": 1,
	} {
		d, err := config.ParseInterval(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := stepFor(d); got != want {
			t.Errorf("stepFor(%s) = %d minutes, want %d", in, got, want)
		}
	}
}

func TestCronToCalendar(t *testing.T) {
	tests := map[string]struct {
		cron, want string
		ok         bool
	}{
		"daily":       {"0 3 * * *", "*-*-* 3:0:00", true},
		"steps":       {"*/15 * * * *", "*-*-* *:00/15:00", true},
		"weekdays":    {"30 3 * * 1-5", "Mon..Fri *-*-* 3:30:00", true},
		"list":        {"0 0,12 1 * *", "*-*-1 0,12:0:00", true},
		"sunday 7":    {"0 4 * * 5-7", "Fri..Sun *-*-* 4:0:00", true},
		"dom or dow":  {"0 0 1 * 1", "", false},
		"month names": {"0 0 1 JAN *", "", false},
		"range step":  {"0 1-10/2 * * *", "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := cronToCalendar(tc.cron)
			if got != tc.want || ok != tc.ok {
				t.Errorf("cronToCalendar(%q) = %q, %v; want %q, %v", tc.cron, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// systemdAnalyze returns the systemd-analyze binary, or skips the test;
// OWUI_REQUIRE_SYSTEMD=1 (CI) makes a missing one a failure.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("OWUI_REQUIRE_SYSTEMD") == "1" {
			t.Fatalf("systemd-analyze not found: %v", err)
		}
		t.Skip("systemd-analyze not installed (apt-get install systemd); .ci/run installs it")
	}
	return p
}

func options(t *testing.T, p *config.Policy, user bool) Options {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Binary:         self, // systemd-analyze verify checks that ExecStart exists
		Policy:         "/etc/owui/owui.hcl",
		StateDir:       "/var/lib/owui",
		StateDirectory: "owui",
		MetricsFile:    "/var/lib/node_exporter/textfile/owui.prom",
		WritePaths:     []string{"/mnt/nas/open webui", "/var/lib/node_exporter/textfile"},
		User:           user,
		Slots:          Slots(p),
		Version:        "test",
	}
}

// TestSystemdAnalyzeVerify writes the units and has Debian's systemd check
// them: no warning may name one of our files.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze := systemdAnalyze(t)
	p := decode(t, policySrc)
	for _, user := range []bool{false, true} {
		name := "system"
		if user {
			name = "user"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var paths []string
			for _, f := range Systemd(options(t, p, user)) {
				path := filepath.Join(dir, f.Name)
				if err := os.WriteFile(path, []byte(f.Content), 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, path)
			}
			// User units are checked by the system manager's parser: the user
			// manager needs a session this test does not have, and the
			// directives user units use are a subset.
			cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
			cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, dir) {
					t.Errorf("systemd-analyze verify: %s", line)
				}
			}
			if t.Failed() {
				for _, f := range Systemd(options(t, p, user)) {
					t.Logf("%s:\n%s", f.Name, f.Content)
				}
			}
		})
	}
}

var elapseLine = regexp.MustCompile(`(?m)^\s*(?:Next elapse|Iter\. #\d+): (.*)$`)

// TestTimerMatchesPolicy asks systemd when the timer fires and compares with
// the policy: the every slot fires at a step that divides the shortest
// every, and each schedule slot fires exactly at the schedule's slots.
func TestTimerMatchesPolicy(t *testing.T) {
	analyze := systemdAnalyze(t)
	p := decode(t, policySrc)
	slots := Slots(p)
	if len(slots) != 3 {
		t.Fatalf("%d slots, want 3 (shortest every, two schedules): %+v", len(slots), slots)
	}
	if slots[0].Period != 30*time.Minute || !strings.Contains(slots[0].Why, `"1h30m"`) {
		t.Errorf("every slot = %+v, want a 30m step for every = 90m", slots[0])
	}
	for _, s := range slots {
		t.Run(s.OnCalendar, func(t *testing.T) {
			cmd := exec.Command(analyze, "calendar", "--iterations=6", s.OnCalendar)
			cmd.Env = append(os.Environ(), "TZ=UTC", "SYSTEMD_LOG_COLOR=0")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze calendar %q: %v\n%s", s.OnCalendar, err, out)
			}
			var got []time.Time
			for _, m := range elapseLine.FindAllStringSubmatch(string(out), -1) {
				at, err := time.Parse("Mon 2006-01-02 15:04:05 MST", strings.TrimSpace(m[1]))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, at)
			}
			if len(got) != 6 {
				t.Fatalf("parsed %d elapses from:\n%s", len(got), out)
			}
			var b *config.Backup
			for _, cand := range p.Backups {
				if cand.Schedule != "" && strings.Contains(s.Why, cand.Name) {
					b = cand
				}
			}
			var want []time.Time
			if b == nil {
				for i := range got {
					want = append(want, got[0].Add(time.Duration(i)*s.Period))
				}
				if (90*time.Minute)%s.Period != 0 {
					t.Errorf("step %s does not divide every = 90m", s.Period)
				}
			} else {
				at := got[0].Add(-time.Second)
				for range got {
					at = b.Cron.Next(at)
					want = append(want, at.UTC())
				}
			}
			utc := func(ts []time.Time) []string {
				var out []string
				for _, t := range ts {
					out = append(out, t.UTC().Format(time.RFC3339))
				}
				return out
			}
			if d := cmp.Diff(utc(want), utc(got)); d != "" {
				t.Errorf("timer elapses (-policy +systemd):\n%s", d)
			}
		})
	}
}

func TestCron(t *testing.T) {
	p := decode(t, policySrc)
	o := options(t, p, false)
	o.Binary = "/usr/local/bin/owui"
	text := Cron(o, "root")
	for _, want := range []string{
		"*/30 * * * * root /usr/local/bin/owui --file /etc/owui/owui.hcl --state /var/lib/owui --metrics-file /var/lib/node_exporter/textfile/owui.prom apply --auto-approve",
		"30 3 * * 1-5 root /usr/local/bin/owui",
		"0 0 * * 0 root /usr/local/bin/owui",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("crontab lacks %q:\n%s", want, text)
		}
	}
	if got := shellQuote("/srv/my owui/50%.hcl"); got != `'/srv/my owui/50\%.hcl'` {
		t.Errorf("shellQuote = %s", got)
	}
}

func TestUnitContent(t *testing.T) {
	p := decode(t, policySrc)
	o := options(t, p, false)
	o.Binary = "/usr/local/bin/owui"
	files := Systemd(o)
	svc, timer := files[0].Content, files[1].Content
	for _, want := range []string{
		"Type=oneshot",
		"ExecStart=/usr/local/bin/owui --file /etc/owui/owui.hcl --state /var/lib/owui --metrics-file /var/lib/node_exporter/textfile/owui.prom apply --auto-approve",
		"StateDirectory=owui",
		"ProtectSystem=strict",
		`ReadWritePaths=-"/mnt/nas/open webui"`,
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("service lacks %q:\n%s", want, svc)
		}
	}
	for _, want := range []string{
		"OnCalendar=*-*-* *:00/30:00 Europe/Berlin",
		"OnCalendar=Mon..Fri *-*-* 3:30:00 Europe/Berlin",
		"Persistent=true",
		"RandomizedDelaySec=180",
	} {
		if !strings.Contains(timer, want) {
			t.Errorf("timer lacks %q:\n%s", want, timer)
		}
	}
}
