package planner

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/owui/owui/config"
	"github.com/robfig/cron/v3"
)

// dailyBackup is the policy guide's "daily" backup.
func dailyBackup(to ...string) *config.Backup {
	return &config.Backup{
		Name: "daily", Instance: "main", To: to, Every: 24 * time.Hour,
		Consistency: config.ConsistencyOnline,
		Keep:        &config.Keep{Daily: 7, Weekly: 4, Monthly: 6},
	}
}

// coldBackup is the policy guide's "weekly-cold" backup.
func coldBackup(to ...string) *config.Backup {
	return &config.Backup{
		Name: "weekly-cold", Instance: "main", To: to, Every: 168 * time.Hour,
		Consistency: config.ConsistencyStop,
		Keep:        &config.Keep{Last: 3},
	}
}

// nightlyBackup runs on the cron schedule "0 3 * * *".
func nightlyBackup(to ...string) *config.Backup {
	sched, err := cron.ParseStandard("0 3 * * *")
	if err != nil {
		panic(err)
	}
	return &config.Backup{
		Name: "nightly", Instance: "main", To: to, Schedule: "0 3 * * *", Cron: sched,
		Consistency: config.ConsistencyOnline,
		Keep:        &config.Keep{Daily: 7},
	}
}

func policy(loc *time.Location, backups ...*config.Backup) *config.Policy {
	return &config.Policy{
		Filename:  "owui.hcl",
		Location:  loc,
		Instances: []*config.Instance{{Name: "main", DataDir: "/opt/open-webui"}},
		Targets: []*config.Target{
			{Name: "b2", Remote: "b2:OpenWebUI-backups"},
			{Name: "nas", Remote: "/mnt/nas/open-webui"},
		},
		Backups: backups,
	}
}

// on returns snapshots of backup on target with the given status, created
// at the given RFC 3339 times.
func on(backup, target string, status Status, times ...string) []Snapshot {
	var out []Snapshot
	for _, s := range times {
		t := at(s)
		out = append(out, Snapshot{Backup: backup, Target: target, ID: SnapshotID(t), CreatedAt: t, Status: status})
	}
	return out
}

func observed(groups ...[]Snapshot) Observed {
	var obs Observed
	for _, g := range groups {
		obs.Snapshots = append(obs.Snapshots, g...)
	}
	return obs
}

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

type planCase struct {
	policy *config.Policy
	obs    Observed
	now    string
}

var planCases = map[string]planCase{
	"first-run-two-backups-two-targets": {
		policy: policy(time.UTC, dailyBackup("b2", "nas"), coldBackup("nas", "b2")),
		now:    "2026-11-26T03:00:00Z",
	},
	"nothing-due": {
		policy: policy(time.UTC, dailyBackup("b2", "nas"), coldBackup("nas")),
		obs: observed(
			on("daily", "b2", StatusComplete, "2026-11-24T07:00:00Z", "2026-11-25T07:00:00Z"),
			on("daily", "nas", StatusComplete, "2026-11-25T07:00:00Z"),
			on("weekly-cold", "nas", StatusComplete, "2026-11-23T03:00:00Z"),
		),
		now: "2026-11-26T03:00:00Z",
	},
	"every-passed": {
		policy: policy(time.UTC, dailyBackup("b2", "nas")),
		obs: observed(
			on("daily", "b2", StatusComplete, "2026-11-24T02:00:00Z", "2026-11-25T02:00:00Z"),
			on("daily", "nas", StatusComplete, "2026-11-25T07:00:00Z"),
		),
		now: "2026-11-26T03:00:00Z",
	},
	// The timer fired 5 seconds before the newest snapshot was a day old.
	"every-due-within-grace": {
		policy: policy(time.UTC, dailyBackup("b2")),
		obs:    observed(on("daily", "b2", StatusComplete, "2026-11-25T03:00:05Z")),
		now:    "2026-11-26T03:00:00Z",
	},
	// 03:00 in Berlin is 02:00Z in November: b2's slot has passed at 02:30Z
	// (in UTC it would not have); nas already has a snapshot after it.
	"schedule-slot-passed-berlin": {
		policy: policy(mustLoad("Europe/Berlin"), nightlyBackup("b2", "nas")),
		obs: observed(
			on("nightly", "b2", StatusComplete, "2026-11-25T02:00:00Z"),
			on("nightly", "nas", StatusComplete, "2026-11-26T02:10:00Z"),
		),
		now: "2026-11-26T02:30:00Z",
	},
	// 30 dailies plus today's: keep 7 days, weeks W47/W46/W45 (W48 and
	// W47's Sunday are dailies too), October's last and, with monthly
	// counts left, the oldest.
	"prune-month-of-dailies": {
		policy: policy(time.UTC, dailyBackup("b2")),
		obs:    observed(on("daily", "b2", StatusComplete, dailies("2026-10-27", "2026-11-25", "03:00")...)),
		now:    "2026-11-26T03:00:00Z",
	},
	"repairs-incomplete-and-missing": {
		policy: policy(time.UTC, dailyBackup("b2")),
		obs: observed(
			on("daily", "b2", StatusComplete, "2026-11-23T03:00:00Z", "2026-11-25T03:00:00Z"),
			on("daily", "b2", StatusMissing, "2026-11-24T03:00:00Z"),
			on("daily", "b2", StatusIncomplete, "2026-11-26T01:00:00Z"),
		),
		now: "2026-11-26T03:00:00Z",
	},
	// "hourly" left the policy and daily no longer goes to "old-nas": their
	// snapshots are left alone, however many there are.
	"backup-removed-from-policy": {
		policy: policy(time.UTC, dailyBackup("b2")),
		obs: observed(
			on("daily", "b2", StatusComplete, "2026-11-25T07:00:00Z"),
			on("daily", "old-nas", StatusComplete, "2026-10-01T03:00:00Z", "2026-10-02T03:00:00Z"),
			on("daily", "old-nas", StatusIncomplete, "2026-10-03T03:00:00Z"),
			on("hourly", "b2", StatusComplete, "2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z", "2026-11-01T03:00:00Z"),
		),
		now: "2026-11-26T03:00:00Z",
	},
	"newest-never-pruned-keep-last-1": {
		policy: policy(time.UTC, &config.Backup{
			Name: "weekly-cold", Instance: "main", To: []string{"nas"}, Every: 168 * time.Hour,
			Keep: &config.Keep{Last: 1},
		}),
		obs: observed(on("weekly-cold", "nas", StatusComplete, "2026-11-16T03:00:00Z", "2026-11-23T03:00:00Z")),
		now: "2026-11-26T03:00:00Z",
	},
	// Once the new snapshot is due, it replaces the newest existing one.
	"keep-last-1-due-replaces-newest": {
		policy: policy(time.UTC, &config.Backup{
			Name: "weekly-cold", Instance: "main", To: []string{"nas"}, Every: 168 * time.Hour,
			Keep: &config.Keep{Last: 1},
		}),
		obs: observed(on("weekly-cold", "nas", StatusComplete, "2026-11-16T03:00:00Z", "2026-11-23T03:00:00Z")),
		now: "2026-11-30T03:00:00Z",
	},
	"no-keep-never-prunes": {
		policy: policy(time.UTC, &config.Backup{
			Name: "daily", Instance: "main", To: []string{"b2"}, Every: 24 * time.Hour,
		}),
		obs: observed(on("daily", "b2", StatusComplete, dailies("2026-11-01", "2026-11-25", "03:00")...)),
		now: "2026-11-26T03:00:00Z",
	},
}

func TestPlanGolden(t *testing.T) {
	for name, tc := range planCases {
		t.Run(name, func(t *testing.T) {
			p := Make(tc.policy, tc.obs, at(tc.now))
			checkGolden(t, "plan", name, renderPlanGolden(t, p))
		})
	}
}

// TestPlanSecondRunIsEmpty applies each plan to its observed snapshots, the
// way a successful apply would, and checks that planning again at the same
// time finds nothing to do.
func TestPlanSecondRunIsEmpty(t *testing.T) {
	for name, tc := range planCases {
		t.Run(name, func(t *testing.T) {
			now := at(tc.now)
			first := Make(tc.policy, tc.obs, now)
			after := simulateApply(first, tc.obs, now)
			second := Make(tc.policy, after, now)
			if len(second.Actions) != 0 {
				t.Errorf("second plan has actions:\n%s", renderPlanGolden(t, second))
			}
		})
	}
}

func simulateApply(p Plan, obs Observed, now time.Time) Observed {
	type addr struct{ backup, target, id string }
	gone := map[addr]bool{}
	var out Observed
	verified := map[addr]bool{} // verify actions pass; read-data ones mark both times
	for _, a := range p.Actions {
		switch a.Kind {
		case KindRepair, KindPrune:
			gone[addr{a.Backup, a.Target, a.Snapshot}] = true
		case KindSnapshot:
			out.Snapshots = append(out.Snapshots, Snapshot{
				Backup: a.Backup, Target: a.Target, ID: SnapshotID(now), CreatedAt: now.Truncate(time.Second), Status: StatusComplete,
			})
		case KindVerify:
			id := a.Snapshot
			if id == "" {
				id = SnapshotID(now)
			}
			verified[addr{a.Backup, a.Target, id}] = a.ReadData
		}
	}
	for _, s := range obs.Snapshots {
		if !gone[addr{s.Backup, s.Target, s.ID}] {
			out.Snapshots = append(out.Snapshots, s)
		}
	}
	for i, s := range out.Snapshots {
		out.Snapshots[i].Drift = ""
		if readData, ok := verified[addr{s.Backup, s.Target, s.ID}]; ok {
			out.Snapshots[i].VerifiedAt, out.Snapshots[i].VerifyFailed = now, false
			if readData {
				out.Snapshots[i].ReadDataVerifiedAt = now
			}
		}
	}
	return out
}

// renderPlanGolden holds the JSON form, the text view rendered from it and
// what retention keeps, for review in one file.
func renderPlanGolden(t *testing.T, p Plan) string {
	t.Helper()
	var sb strings.Builder
	js, err := json.MarshalIndent(p.JSON(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	sb.WriteString("-- json --\n")
	sb.Write(js)
	sb.WriteString("\n-- text --\n")
	if err := RenderText(&sb, p.JSON(), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	sb.WriteString("-- kept --\n")
	if err := RenderKept(&sb, p.Kept); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func TestPlanJSONActionsNeverNull(t *testing.T) {
	p := Make(policy(time.UTC), Observed{}, at("2026-11-26T03:00:00Z"))
	js, err := json.Marshal(p.JSON())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format_version":"1","now":"2026-11-26T03:00:00Z","actions":[]}`
	if string(js) != want {
		t.Errorf("JSON = %s, want %s", js, want)
	}
}

func TestDueBoundaries(t *testing.T) {
	every := 24 * time.Hour
	newest := at("2026-11-25T03:00:00Z")
	p := policy(time.UTC, dailyBackup("b2"))
	obs := observed(on("daily", "b2", StatusComplete, "2026-11-25T03:00:00Z"))
	tests := map[string]struct {
		now  time.Time
		want bool
	}{
		"one second before the grace": {newest.Add(every - Grace(every) - time.Second), false},
		"at the grace":                {newest.Add(every - Grace(every)), true},
		"a full period":               {newest.Add(every), true},
		"snapshot in the future":      {newest.Add(-time.Hour), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := len(Make(p, obs, tc.now).Actions) > 0
			if got != tc.want {
				t.Errorf("due = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGrace(t *testing.T) {
	for every, want := range map[time.Duration]time.Duration{
		time.Hour:        6 * time.Minute,
		5 * time.Hour:    30 * time.Minute,
		24 * time.Hour:   30 * time.Minute,
		168 * time.Hour:  30 * time.Minute,
		10 * time.Minute: time.Minute,
	} {
		if got := Grace(every); got != want {
			t.Errorf("Grace(%v) = %v, want %v", every, got, want)
		}
	}
}

func TestFormatters(t *testing.T) {
	tests := map[string]struct{ got, want string }{
		"age hours":         {FormatAge(25 * time.Hour), "25h0m"},
		"age minutes":       {FormatAge(45*time.Minute + 30*time.Second), "45m"},
		"age seconds":       {FormatAge(12 * time.Second), "12s"},
		"interval day":      {FormatInterval(24 * time.Hour), "24h"},
		"interval mixed":    {FormatInterval(90 * time.Minute), "1h30m"},
		"interval seconds":  {FormatInterval(90 * time.Second), "1m30s"},
		"keep nil":          {FormatKeep(nil), "keep {}"},
		"keep counts":       {FormatKeep(&config.Keep{Last: 2, Daily: 7, Yearly: -1}), "keep { last = 2, daily = 7, yearly = -1 }"},
		"keep within":       {FormatKeep(&config.Keep{Within: config.Within{Years: 1, Months: 6, Hours: 12}}), `keep { within = "1y6m12h" }`},
		"within days hours": {FormatWithin(config.Within{Days: 2, Hours: 12}), "2d12h"},
	}
	for name, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", name, tc.got, tc.want)
		}
	}
}

func TestRenderTextColor(t *testing.T) {
	p := Make(policy(time.UTC, dailyBackup("b2")), Observed{}, at("2026-11-26T03:00:00Z"))
	var plain, color bytes.Buffer
	if err := RenderText(&plain, p.JSON(), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderText(&color, p.JSON(), RenderOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("plain output has ANSI escapes:\n%q", plain.String())
	}
	if !strings.Contains(color.String(), ansiGreen+"+"+ansiReset+" snapshot daily → b2") {
		t.Errorf("colored output lacks a green +:\n%q", color.String())
	}
	if stripped := stripANSI(color.String()); stripped != plain.String() {
		t.Errorf("colored output differs from plain beyond escapes:\n%s", cmp.Diff(plain.String(), stripped))
	}
}

func stripANSI(s string) string {
	for _, code := range []string{ansiReset, ansiBold, ansiRed, ansiGreen, ansiYellow, ansiCyan} {
		s = strings.ReplaceAll(s, code, "")
	}
	return s
}

func TestRenderTextNoChanges(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderText(&buf, Plan{Now: at("2026-11-26T03:00:00Z")}.JSON(), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "No changes. Backups match the policy.\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
