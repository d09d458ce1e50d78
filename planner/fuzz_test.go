package planner

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/config"
)

// fuzzZones are the bucketing zones FuzzRetain picks from: UTC, the usual
// DST zones, a half-hour DST shift and offsets that are not whole hours.
var fuzzZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "Pacific/Apia"}

// fuzzSnapshots turns each 4 bytes of data into a snapshot time after
// 2000-01-01: the top two bits pick a spread (an hour, two weeks, two years
// or 34 years of seconds) so that bucket collisions are common. IDs are
// unique even when times are equal, as on a target.
func fuzzSnapshots(data []byte) []Snapshot {
	base := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	spreads := []int64{3600, 14 * 86400, 800 * 86400, 1 << 30}
	var out []Snapshot
	for i := 0; i+4 <= len(data) && len(out) < 300; i += 4 {
		v := binary.BigEndian.Uint32(data[i:])
		secs := int64(v&(1<<30-1)) % spreads[v>>30]
		t := base.Add(time.Duration(secs) * time.Second)
		out = append(out, Snapshot{Backup: "daily", Target: "t", ID: fmt.Sprintf("%s-%03d", SnapshotID(t), len(out)),
			CreatedAt: t, Status: StatusComplete})
	}
	return out
}

// fuzzCount maps a fuzz byte to a keep count: 0 and up as given, and every
// negative value to -1 (unlimited), as the config decoder allows.
func fuzzCount(c int8) int {
	if c < 0 {
		return -1
	}
	return int(c)
}

// fuzzWithin maps any int to a non-negative within part (ParseWithin
// never yields a negative one); huge values stay huge.
func fuzzWithin(v int) int {
	if v < 0 {
		return ^v
	}
	return v
}

// FuzzRetain checks Retain's invariants on arbitrary snapshot lists and
// keep policies: no panic; kept and removed partition the input; both are
// newest first; every kept snapshot has a reason; no rule keeps more than
// its count; with any rule set the newest snapshot is kept; and last = N
// keeps at least min(N, len) snapshots.
func FuzzRetain(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x01\x40\x00\x10\x00\x80\x01\x00\x00\xc0\x10\x00\x00"), int8(3), int8(0), int8(7), int8(4), int8(6), int8(0), 0, 0, 0, 0, uint8(1))
	f.Add([]byte("\x40\x00\x00\x00\x40\x00\x00\x00\x40\x00\x00\x01"), int8(0), int8(-1), int8(0), int8(0), int8(0), int8(0), 0, 0, 2, 12, uint8(0))
	// within that overflows time.Duration: still keeps the newest.
	f.Add([]byte("\x80\x00\x00\x00\x80\x10\x00\x00"), int8(0), int8(0), int8(0), int8(0), int8(0), int8(0), 0, 0, 0, 3000000, uint8(0))
	f.Add([]byte("\xc0\x00\x00\x00\xc0\x00\x00\x05"), int8(0), int8(0), int8(0), int8(0), int8(0), int8(0), 1<<62, 0, 0, 0, uint8(2))
	f.Add([]byte{}, int8(5), int8(0), int8(0), int8(0), int8(0), int8(0), 0, 0, 0, 0, uint8(0))

	var zones []*time.Location
	for _, name := range fuzzZones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			f.Fatal(err)
		}
		zones = append(zones, loc)
	}

	f.Fuzz(func(t *testing.T, data []byte, last, hourly, daily, weekly, monthly, yearly int8, wy, wm, wd, wh int, zone uint8) {
		loc := zones[int(zone)%len(zones)]
		snaps := fuzzSnapshots(data)
		keep := &config.Keep{
			Last: fuzzCount(last), Hourly: fuzzCount(hourly), Daily: fuzzCount(daily),
			Weekly: fuzzCount(weekly), Monthly: fuzzCount(monthly), Yearly: fuzzCount(yearly),
			Within: config.Within{Years: fuzzWithin(wy), Months: fuzzWithin(wm), Days: fuzzWithin(wd), Hours: fuzzWithin(wh)},
		}
		kept, removed := Retain(snaps, keep, loc)

		count := map[string]int{}
		for _, k := range kept {
			count[k.Snapshot]++
			if len(k.Reasons) == 0 {
				t.Errorf("kept %s without a reason", k.Snapshot)
			}
		}
		for _, s := range removed {
			count[s.ID]++
		}
		for _, s := range snaps {
			if count[s.ID] != 1 {
				t.Fatalf("snapshot %s is %d times in kept + removed, want once", s.ID, count[s.ID])
			}
		}
		if len(kept)+len(removed) != len(snaps) {
			t.Fatalf("kept %d + removed %d != %d snapshots", len(kept), len(removed), len(snaps))
		}

		if !slices.IsSortedFunc(kept, func(a, b Kept) int { return b.CreatedAt.Compare(a.CreatedAt) }) ||
			!slices.IsSortedFunc(removed, func(a, b Snapshot) int { return b.CreatedAt.Compare(a.CreatedAt) }) {
			t.Errorf("kept or removed is not newest first")
		}

		if len(snaps) > 0 && !keep.IsZero() {
			newest, _ := newestOf(snaps)
			if len(kept) == 0 || kept[0].Snapshot != newest.ID {
				t.Fatalf("newest snapshot %s (%s) not kept first by %s; kept %d of %d",
					newest.ID, newest.CreatedAt, FormatKeep(keep), len(kept), len(snaps))
			}
		}

		if want := keep.Last; want != 0 {
			if want < 0 || want > len(snaps) {
				want = len(snaps)
			}
			if len(kept) < want {
				t.Errorf("last = %d kept only %d of %d snapshots", keep.Last, len(kept), len(snaps))
			}
		}

		for _, rule := range []struct {
			reason string
			count  int
		}{
			{"last snapshot", keep.Last}, {"hourly snapshot", keep.Hourly}, {"daily snapshot", keep.Daily},
			{"weekly snapshot", keep.Weekly}, {"monthly snapshot", keep.Monthly}, {"yearly snapshot", keep.Yearly},
		} {
			n := 0
			for _, k := range kept {
				for _, r := range k.Reasons {
					if strings.TrimPrefix(r, "oldest ") == rule.reason {
						n++
					}
				}
			}
			if rule.count >= 0 && n > rule.count {
				t.Errorf("%d snapshots kept as %q, the rule allows %d", n, rule.reason, rule.count)
			}
		}
	})
}
