package planner

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the time-zone cases must not depend on the host's zoneinfo

	"github.com/google/go-cmp/cmp"
	"github.com/owui/owui/config"
)

// at parses an RFC 3339 time and panics on a typo in a test table.
func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// snaps returns complete snapshots of backup "daily" on target "b2" created
// at the given RFC 3339 times, with IDs from SnapshotID.
func snaps(times ...string) []Snapshot {
	var out []Snapshot
	for _, s := range times {
		t := at(s)
		out = append(out, Snapshot{Backup: "daily", Target: "b2", ID: SnapshotID(t), CreatedAt: t, Status: StatusComplete})
	}
	return out
}

// ids returns the snapshot IDs for the given RFC 3339 times.
func ids(times ...string) []string {
	var out []string
	for _, s := range times {
		out = append(out, SnapshotID(at(s)))
	}
	return out
}

// dailies returns one snapshot a day at hh:mm UTC from first to last.
func dailies(first, last, hhmm string) []string {
	var out []string
	end := at(last + "T" + hhmm + ":00Z")
	for t := at(first + "T" + hhmm + ":00Z"); !t.After(end); t = t.AddDate(0, 0, 1) {
		out = append(out, t.Format(time.RFC3339))
	}
	return out
}

// sundays is the snapshot list of restic's forget documentation
// (doc/060_forget.rst): one backup every Sunday at 11:00 for 12 weeks.
var sundays = []string{
	"2019-09-01T11:00:00Z", "2019-09-08T11:00:00Z", "2019-09-15T11:00:00Z",
	"2019-09-22T11:00:00Z", "2019-09-29T11:00:00Z", "2019-10-06T11:00:00Z",
	"2019-10-13T11:00:00Z", "2019-10-20T11:00:00Z", "2019-10-27T11:00:00Z",
	"2019-11-03T11:00:00Z", "2019-11-10T11:00:00Z", "2019-11-17T11:00:00Z",
}

// yearEnd straddles 2020-12-31/2021-01-01: 2020-12-28 to 2021-01-03 is
// ISO week 2020-W53, so weeks and years bucket these differently.
var yearEnd = []string{
	"2020-12-27T12:00:00Z", // Sun, 2020-W52
	"2020-12-31T12:00:00Z", // Thu, 2020-W53
	"2021-01-01T12:00:00Z", // Fri, 2020-W53
	"2021-01-03T12:00:00Z", // Sun, 2020-W53
	"2021-01-04T12:00:00Z", // Mon, 2021-W01
}

type retainCase struct {
	snaps []Snapshot
	keep  *config.Keep
	loc   string   // IANA zone for buckets; "" is UTC
	want  []string // IDs of the kept snapshots, in any order
}

// retainCases are worked out by hand from restic's documented semantics;
// the golden files add the reasons.
var retainCases = map[string]retainCase{
	// restic's documented example: four Sundays are the last four days
	// with a snapshot; the count is used up, so the oldest goes.
	"docs-sundays-daily-4": {
		snaps: snaps(sundays...),
		keep:  &config.Keep{Daily: 4},
		want:  ids("2019-10-27T11:00:00Z", "2019-11-03T11:00:00Z", "2019-11-10T11:00:00Z", "2019-11-17T11:00:00Z"),
	},
	"docs-sundays-last-3": {
		snaps: snaps(sundays...),
		keep:  &config.Keep{Last: 3},
		want:  ids("2019-11-03T11:00:00Z", "2019-11-10T11:00:00Z", "2019-11-17T11:00:00Z"),
	},
	// Every Sunday ends its own ISO week.
	"docs-sundays-weekly-4": {
		snaps: snaps(sundays...),
		keep:  &config.Keep{Weekly: 4},
		want:  ids("2019-10-27T11:00:00Z", "2019-11-03T11:00:00Z", "2019-11-10T11:00:00Z", "2019-11-17T11:00:00Z"),
	},
	// The newest of November, then the newest of October.
	"docs-sundays-monthly-2": {
		snaps: snaps(sundays...),
		keep:  &config.Keep{Monthly: 2},
		want:  ids("2019-10-27T11:00:00Z", "2019-11-17T11:00:00Z"),
	},
	// Three months have snapshots, so three counts are left at the end and
	// the oldest (September, already represented) is kept as well.
	"docs-sundays-monthly-6-keeps-oldest": {
		snaps: snaps(sundays...),
		keep:  &config.Keep{Monthly: 6},
		want:  ids("2019-09-01T11:00:00Z", "2019-09-29T11:00:00Z", "2019-10-27T11:00:00Z", "2019-11-17T11:00:00Z"),
	},
	"docs-sundays-yearly-1": {
		snaps: snaps(sundays...),
		keep:  &config.Keep{Yearly: 1},
		want:  ids("2019-11-17T11:00:00Z"),
	},
	// restic issue #3624, the reason for the 0.16 change: two yearly
	// snapshots wanted, one year of history: keep the newest and the oldest.
	"docs-sundays-yearly-2-keeps-oldest": {
		snaps: snaps(sundays...),
		keep:  &config.Keep{Yearly: 2},
		want:  ids("2019-09-01T11:00:00Z", "2019-11-17T11:00:00Z"),
	},
	// Rules are ORed; each counts only what it keeps itself.
	"docs-sundays-daily-2-weekly-2-monthly-2": {
		snaps: snaps(sundays...),
		keep:  &config.Keep{Daily: 2, Weekly: 2, Monthly: 2},
		want:  ids("2019-10-27T11:00:00Z", "2019-11-10T11:00:00Z", "2019-11-17T11:00:00Z"),
	},
	"docs-sundays-shuffled-input-weekly-2": {
		snaps: snaps(
			"2019-10-06T11:00:00Z", "2019-11-17T11:00:00Z", "2019-09-01T11:00:00Z", "2019-10-27T11:00:00Z",
			"2019-09-22T11:00:00Z", "2019-11-10T11:00:00Z", "2019-09-08T11:00:00Z", "2019-10-20T11:00:00Z",
			"2019-11-03T11:00:00Z", "2019-09-29T11:00:00Z", "2019-10-13T11:00:00Z", "2019-09-15T11:00:00Z",
		),
		keep: &config.Keep{Weekly: 2},
		want: ids("2019-11-10T11:00:00Z", "2019-11-17T11:00:00Z"),
	},
	// The docs' "daily 7, weekly 5, monthly 12, yearly 75" over a quarter
	// of dailies: 7 days; weeks W53 (12-31), W52 (12-27, a daily too),
	// W51 (12-20), W50 (12-13), W49 (12-06); months Dec (12-31), Nov
	// (11-30), Oct (10-31); monthly and yearly have counts left, so the
	// oldest (10-01) is kept for both.
	"dailies-q4-daily-7-weekly-5-monthly-12-yearly-75": {
		snaps: snaps(dailies("2020-10-01", "2020-12-31", "03:00")...),
		keep:  &config.Keep{Daily: 7, Weekly: 5, Monthly: 12, Yearly: 75},
		want: ids(
			"2020-12-31T03:00:00Z", "2020-12-30T03:00:00Z", "2020-12-29T03:00:00Z", "2020-12-28T03:00:00Z",
			"2020-12-27T03:00:00Z", "2020-12-26T03:00:00Z", "2020-12-25T03:00:00Z",
			"2020-12-20T03:00:00Z", "2020-12-13T03:00:00Z", "2020-12-06T03:00:00Z",
			"2020-11-30T03:00:00Z", "2020-10-31T03:00:00Z", "2020-10-01T03:00:00Z",
		),
	},
	"last-1-single-snapshot": {
		snaps: snaps("2026-11-26T03:00:00Z"),
		keep:  &config.Keep{Last: 1},
		want:  ids("2026-11-26T03:00:00Z"),
	},
	// Every snapshot is its own bucket for last, so the oldest rule never
	// adds an "oldest last snapshot".
	"last-5-fewer-snapshots": {
		snaps: snaps("2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z", "2026-11-26T03:00:00Z"),
		keep:  &config.Keep{Last: 5},
		want:  ids("2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z", "2026-11-26T03:00:00Z"),
	},
	"last-unlimited": {
		snaps: snaps("2026-11-23T03:00:00Z", "2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z", "2026-11-26T03:00:00Z"),
		keep:  &config.Keep{Last: -1},
		want:  ids("2026-11-23T03:00:00Z", "2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z", "2026-11-26T03:00:00Z"),
	},
	// Unlimited still means one per day, plus the oldest.
	"daily-unlimited-twice-a-day": {
		snaps: snaps(
			"2026-03-01T09:00:00Z", "2026-03-01T21:00:00Z", "2026-03-02T09:00:00Z",
			"2026-03-02T21:00:00Z", "2026-03-03T09:00:00Z", "2026-03-03T21:00:00Z",
		),
		keep: &config.Keep{Daily: -1},
		want: ids("2026-03-01T09:00:00Z", "2026-03-01T21:00:00Z", "2026-03-02T21:00:00Z", "2026-03-03T21:00:00Z"),
	},
	"hourly-distinct-hours": {
		snaps: snaps("2024-05-17T08:50:00Z", "2024-05-17T09:36:51Z", "2024-05-17T09:41:06Z"),
		keep:  &config.Keep{Hourly: 24},
		want:  ids("2024-05-17T08:50:00Z", "2024-05-17T09:41:06Z"),
	},
	// restic issue #4806: both snapshots of the 09:00 hour are kept, the
	// older one as the oldest (the reason restic 0.17.2 spells out).
	"hourly-duplicates-same-hour-keeps-oldest": {
		snaps: snaps("2024-05-17T09:36:51Z", "2024-05-17T09:41:06Z"),
		keep:  &config.Keep{Hourly: 24},
		want:  ids("2024-05-17T09:36:51Z", "2024-05-17T09:41:06Z"),
	},
	"hourly-duplicates-count-used-up": {
		snaps: snaps("2024-05-17T09:36:51Z", "2024-05-17T09:41:06Z"),
		keep:  &config.Keep{Hourly: 1},
		want:  ids("2024-05-17T09:41:06Z"),
	},
	// Equal times order by ID, so the result does not depend on input order.
	"equal-times-last-1": {
		snaps: []Snapshot{
			{Backup: "daily", Target: "b2", ID: "a", CreatedAt: at("2026-11-26T03:00:00Z"), Status: StatusComplete},
			{Backup: "daily", Target: "b2", ID: "b", CreatedAt: at("2026-11-26T03:00:00Z"), Status: StatusComplete},
		},
		keep: &config.Keep{Last: 1},
		want: []string{"b"},
	},
	"equal-times-daily-1-reversed-input": {
		snaps: []Snapshot{
			{Backup: "daily", Target: "b2", ID: "b", CreatedAt: at("2026-11-26T03:00:00Z"), Status: StatusComplete},
			{Backup: "daily", Target: "b2", ID: "a", CreatedAt: at("2026-11-26T03:00:00Z"), Status: StatusComplete},
		},
		keep: &config.Keep{Daily: 1},
		want: []string{"b"},
	},
	// Newest 2020-12-15 minus 1y6m is 2019-06-15 12:00; restic keeps only
	// snapshots strictly after that, so 2019-06-15 itself goes.
	"within-1y6m-monthly-snapshots": {
		snaps: snaps(monthlies("2019-01-15T12:00:00Z", 24)...),
		keep:  &config.Keep{Within: config.Within{Years: 1, Months: 6}},
		want:  ids(monthlies("2019-07-15T12:00:00Z", 18)...),
	},
	"within-2d-boundary-is-exclusive": {
		snaps: snaps("2026-03-07T12:00:00Z", "2026-03-08T12:00:00Z", "2026-03-08T12:00:01Z", "2026-03-10T12:00:00Z"),
		keep:  &config.Keep{Within: config.Within{Days: 2}},
		want:  ids("2026-03-08T12:00:01Z", "2026-03-10T12:00:00Z"),
	},
	// 2021-03-31 minus one month is "2021-02-31", which Go's AddDate (and
	// so restic) normalizes to 2021-03-03.
	"within-1m-end-of-month-normalizes": {
		snaps: snaps("2021-02-28T12:00:00Z", "2021-03-02T12:00:00Z", "2021-03-03T12:00:00Z", "2021-03-04T12:00:00Z", "2021-03-31T12:00:00Z"),
		keep:  &config.Keep{Within: config.Within{Months: 1}},
		want:  ids("2021-03-04T12:00:00Z", "2021-03-31T12:00:00Z"),
	},
	"within-12h-and-last-1": {
		snaps: snaps("2026-03-09T23:00:00Z", "2026-03-10T00:00:00Z", "2026-03-10T06:00:00Z", "2026-03-10T12:00:00Z"),
		keep:  &config.Keep{Last: 1, Within: config.Within{Hours: 12}},
		want:  ids("2026-03-10T06:00:00Z", "2026-03-10T12:00:00Z"),
	},
	// 2020-12-31 and 2021-01-01 are both in 2020-W53.
	"iso-week-year-boundary-weekly-3": {
		snaps: snaps(yearEnd...),
		keep:  &config.Keep{Weekly: 3},
		want:  ids("2020-12-27T12:00:00Z", "2021-01-03T12:00:00Z", "2021-01-04T12:00:00Z"),
	},
	"iso-week-year-boundary-yearly-2": {
		snaps: snaps(yearEnd...),
		keep:  &config.Keep{Yearly: 2},
		want:  ids("2020-12-31T12:00:00Z", "2021-01-04T12:00:00Z"),
	},
	// 23:30Z and 00:30Z are two days in UTC but the same evening in New York.
	"time-zone-utc-two-days": {
		snaps: snaps("2026-11-24T12:00:00Z", "2026-11-25T23:30:00Z", "2026-11-26T00:30:00Z"),
		keep:  &config.Keep{Daily: 2},
		want:  ids("2026-11-25T23:30:00Z", "2026-11-26T00:30:00Z"),
	},
	"time-zone-new-york-one-day": {
		snaps: snaps("2026-11-24T12:00:00Z", "2026-11-25T23:30:00Z", "2026-11-26T00:30:00Z"),
		keep:  &config.Keep{Daily: 2},
		loc:   "America/New_York",
		want:  ids("2026-11-24T12:00:00Z", "2026-11-26T00:30:00Z"),
	},
	// 14:30Z and 15:30Z are one day in UTC but straddle midnight in Tokyo.
	"time-zone-utc-one-day": {
		snaps: snaps("2026-11-24T12:00:00Z", "2026-11-25T14:30:00Z", "2026-11-25T15:30:00Z"),
		keep:  &config.Keep{Daily: 2},
		want:  ids("2026-11-24T12:00:00Z", "2026-11-25T15:30:00Z"),
	},
	"time-zone-tokyo-two-days": {
		snaps: snaps("2026-11-24T12:00:00Z", "2026-11-25T14:30:00Z", "2026-11-25T15:30:00Z"),
		keep:  &config.Keep{Daily: 2},
		loc:   "Asia/Tokyo",
		want:  ids("2026-11-25T14:30:00Z", "2026-11-25T15:30:00Z"),
	},
	// On 2026-10-25 Berlin repeats 02:00-03:00: 00:30Z (CEST) and 01:30Z
	// (CET) are both 02:30 local, one hourly bucket.
	"dst-fall-back-berlin-repeated-hour": {
		snaps: snaps("2026-10-24T23:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"),
		keep:  &config.Keep{Hourly: 5},
		loc:   "Europe/Berlin",
		want:  ids("2026-10-24T23:30:00Z", "2026-10-25T01:30:00Z"),
	},
	// The oldest opens a new year, so its reason is the plain one.
	"yearly-unlimited-oldest-in-own-bucket": {
		snaps: snaps("2024-06-01T03:00:00Z", "2025-01-10T03:00:00Z", "2025-06-01T03:00:00Z", "2026-03-01T03:00:00Z"),
		keep:  &config.Keep{Yearly: -1},
		want:  ids("2024-06-01T03:00:00Z", "2025-06-01T03:00:00Z", "2026-03-01T03:00:00Z"),
	},
	"within-3d-daily-2-monthly-1": {
		snaps: snaps(dailies("2026-10-20", "2026-11-05", "03:00")...),
		keep:  &config.Keep{Daily: 2, Monthly: 1, Within: config.Within{Days: 3}},
		want:  ids("2026-11-03T03:00:00Z", "2026-11-04T03:00:00Z", "2026-11-05T03:00:00Z"),
	},
	"no-keep-keeps-all": {
		snaps: snaps("2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z"),
		keep:  nil,
		want:  ids("2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z"),
	},
	"all-zero-keep-keeps-all": {
		snaps: snaps("2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z"),
		keep:  &config.Keep{},
		want:  ids("2026-11-24T03:00:00Z", "2026-11-25T03:00:00Z"),
	},
	"empty-input": {
		keep: &config.Keep{Daily: 7},
	},
}

// monthlies returns n times one calendar month apart, starting at first.
func monthlies(first string, n int) []string {
	var out []string
	t := at(first)
	for i := range n {
		out = append(out, t.AddDate(0, i, 0).Format(time.RFC3339))
	}
	return out
}

func TestRetain(t *testing.T) {
	for name, tc := range retainCases {
		t.Run(name, func(t *testing.T) {
			loc := time.UTC
			if tc.loc != "" {
				var err error
				if loc, err = time.LoadLocation(tc.loc); err != nil {
					t.Fatal(err)
				}
			}
			kept, removed := Retain(tc.snaps, tc.keep, loc)

			var got []string
			for _, k := range kept {
				got = append(got, k.Snapshot)
			}
			if diff := cmp.Diff(sorted(tc.want), sorted(got)); diff != "" {
				t.Errorf("kept snapshots (-want +got):\n%s", diff)
			}
			checkRetainInvariants(t, tc, kept, removed)
			checkGolden(t, "retention", name, renderRetention(tc, kept, removed, loc))
		})
	}
}

// checkRetainInvariants holds for every policy: kept and removed partition
// the input, every kept snapshot has a reason, and with any rule set the
// newest snapshot is kept.
func checkRetainInvariants(t *testing.T, tc retainCase, kept []Kept, removed []Snapshot) {
	t.Helper()
	var in, out []string
	for _, s := range tc.snaps {
		in = append(in, s.ID)
	}
	for _, k := range kept {
		out = append(out, k.Snapshot)
		if len(k.Reasons) == 0 {
			t.Errorf("kept %s without a reason", k.Snapshot)
		}
	}
	for _, s := range removed {
		out = append(out, s.ID)
	}
	if diff := cmp.Diff(sorted(in), sorted(out)); diff != "" {
		t.Errorf("kept + removed differ from the input (-in +out):\n%s", diff)
	}
	if len(tc.snaps) > 0 {
		newest, _ := newestOf(tc.snaps)
		if len(kept) == 0 || kept[0].Snapshot != newest.ID {
			t.Errorf("newest snapshot %s not kept first", newest.ID)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// renderRetention lists every snapshot, newest first, with its fate, its
// time in the bucketing zone, its ISO week and the reasons it is kept.
func renderRetention(tc retainCase, kept []Kept, removed []Snapshot, loc *time.Location) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s\ntime zone: %s\n\n", FormatKeep(tc.keep), loc)
	reasons := map[string][]string{}
	for _, k := range kept {
		reasons[k.Snapshot] = k.Reasons
	}
	all := slices.Clone(tc.snaps)
	sortNewestFirst(all)
	for _, s := range all {
		fate := "remove"
		if _, ok := reasons[s.ID]; ok {
			fate = "keep"
		}
		lt := s.CreatedAt.In(loc)
		y, w := lt.ISOWeek()
		line := fmt.Sprintf("%-6s  %-18s  %s  %d-W%02d  %s", fate, s.ID, lt.Format("Mon 2006-01-02 15:04:05 MST"), y, w,
			strings.Join(reasons[s.ID], ", "))
		sb.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	if len(all) == 0 {
		sb.WriteString("(no snapshots)\n")
	}
	fmt.Fprintf(&sb, "\nkept %d, removed %d\n", len(kept), len(removed))
	return sb.String()
}

func TestSnapshotID(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 11, 26, 4, 0, 0, 500, berlin)
	id := SnapshotID(created)
	if id != "2026-11-26T030000Z" {
		t.Errorf("SnapshotID = %q, want 2026-11-26T030000Z", id)
	}
	back, err := ParseSnapshotID(id)
	if err != nil {
		t.Fatal(err)
	}
	if want := created.Truncate(time.Second); !back.Equal(want) || back.Location() != time.UTC {
		t.Errorf("ParseSnapshotID = %v, want %v in UTC", back, want.UTC())
	}
	for _, bad := range []string{"", "2026-11-26T03:00:00Z", "2026-11-26T030000", "2026-13-26T030000Z", ".owui-lock"} {
		if _, err := ParseSnapshotID(bad); err == nil {
			t.Errorf("ParseSnapshotID(%q) succeeded, want an error", bad)
		}
	}
}
