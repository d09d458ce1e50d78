package planner

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/owui/owui/config"
)

// ReasonNoKeep is the reason every snapshot carries when a backup has no
// keep rules: without a policy nothing is ever removed.
const ReasonNoKeep = "no keep rules"

// Retain applies a keep policy with the semantics of restic's forget
// (0.16 and later) and splits snapshots into the kept ones, each with every
// reason that keeps it, and the removed ones. Both results are ordered
// newest first; snapshots with equal times are ordered by ID, descending.
//
// The rules, as restic applies them:
//
//   - Snapshots are walked from newest to oldest.
//   - within keeps every snapshot strictly newer than the newest snapshot
//     minus the duration (years, months and days by calendar, then hours).
//   - last, hourly, daily, weekly, monthly and yearly each keep a snapshot
//     whose bucket (the snapshot itself for last; the hour, day, ISO week,
//     month or year of its time in loc otherwise) differs from that of the
//     snapshot the rule kept before, while the rule has count left (-1 is
//     unlimited); keeping one uses up one count.
//   - A rule with count left also keeps the oldest snapshot (restic 0.16,
//     PR #4366); when only this rule keeps it, the reason reads
//     "oldest daily snapshot" (restic PR #5039).
//
// A nil keep or one with every rule unused keeps everything with
// ReasonNoKeep. loc nil means UTC. Retain is pure; unlike restic, it takes
// the newest snapshot given as the reference for within even if it lies in
// the future, since it does not read the clock.
func Retain(snaps []Snapshot, keep *config.Keep, loc *time.Location) (kept []Kept, removed []Snapshot) {
	if loc == nil {
		loc = time.UTC
	}
	list := slices.Clone(snaps)
	sortNewestFirst(list)
	if len(list) == 0 {
		return nil, nil
	}
	if keepEmpty(keep) {
		for _, s := range list {
			kept = append(kept, keptFrom(s, []string{ReasonNoKeep}))
		}
		return kept, nil
	}

	rules := bucketRules(keep)
	var cutoff time.Time
	within := !withinZero(keep.Within)
	withinAll := within && withinBeyondTime(keep.Within)
	if within && !withinAll {
		w := keep.Within
		cutoff = list[0].CreatedAt.AddDate(-w.Years, -w.Months, -w.Days).Add(-time.Duration(w.Hours) * time.Hour)
	}
	oldest := len(list) - 1

	for nr, s := range list {
		var reasons []string
		if within && (withinAll || s.CreatedAt.After(cutoff)) {
			reasons = append(reasons, "within "+FormatWithin(keep.Within))
		}
		t := s.CreatedAt.In(loc)
		for i := range rules {
			if reason, ok := rules[i].apply(t, nr, nr == oldest); ok {
				reasons = append(reasons, reason)
			}
		}
		if len(reasons) > 0 {
			kept = append(kept, keptFrom(s, reasons))
		} else {
			removed = append(removed, s)
		}
	}
	return kept, removed
}

// maxWithinYears bounds the within durations Retain computes a cutoff for.
// Past it (or past time.Duration's 292 years of hours) the arithmetic
// wraps around and would put the cutoff after the newest snapshot, so that
// within = "3000000h" kept nothing; such a duration keeps everything.
const maxWithinYears = 100_000

// withinBeyondTime reports whether w reaches further back than Retain
// computes: every snapshot is within it.
func withinBeyondTime(w config.Within) bool {
	return w.Years > maxWithinYears || w.Months/12 > maxWithinYears || w.Days/366 > maxWithinYears ||
		int64(w.Hours) > math.MaxInt64/int64(time.Hour)
}

// bucketRule is one counted rule (last, hourly, ...) while Retain walks the
// snapshots.
type bucketRule struct {
	count  int // left to keep; negative means unlimited
	key    func(t time.Time, nr int) int
	reason string
	seen   bool // a snapshot was kept by this rule, so last is set
	last   int  // bucket of the snapshot this rule kept last
}

// apply reports whether the rule keeps the snapshot at position nr (newest
// first) with local time t, and why.
func (r *bucketRule) apply(t time.Time, nr int, isOldest bool) (string, bool) {
	if r.count == 0 {
		return "", false
	}
	k := r.key(t, nr)
	newBucket := !r.seen || k != r.last
	if !newBucket && !isOldest {
		return "", false
	}
	reason := r.reason
	if !newBucket {
		reason = "oldest " + reason
	}
	r.seen, r.last = true, k
	if r.count > 0 {
		r.count--
	}
	return reason, true
}

// bucketRules returns the counted rules in restic's order, which is also
// the order of the reasons on a kept snapshot.
func bucketRules(k *config.Keep) []bucketRule {
	return []bucketRule{
		{count: k.Last, key: func(_ time.Time, nr int) int { return nr }, reason: "last snapshot"},
		{count: k.Hourly, key: func(t time.Time, _ int) int {
			return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour()
		}, reason: "hourly snapshot"},
		{count: k.Daily, key: func(t time.Time, _ int) int {
			return t.Year()*10000 + int(t.Month())*100 + t.Day()
		}, reason: "daily snapshot"},
		{count: k.Weekly, key: func(t time.Time, _ int) int {
			y, w := t.ISOWeek()
			return y*100 + w
		}, reason: "weekly snapshot"},
		{count: k.Monthly, key: func(t time.Time, _ int) int {
			return t.Year()*100 + int(t.Month())
		}, reason: "monthly snapshot"},
		{count: k.Yearly, key: func(t time.Time, _ int) int { return t.Year() }, reason: "yearly snapshot"},
	}
}

// sortNewestFirst orders snapshots newest first. Equal times fall back to
// the ID (descending) so that the result never depends on input order.
func sortNewestFirst(list []Snapshot) {
	slices.SortFunc(list, func(a, b Snapshot) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
}

func keptFrom(s Snapshot, reasons []string) Kept {
	return Kept{Backup: s.Backup, Target: s.Target, Snapshot: s.ID, CreatedAt: s.CreatedAt, Reasons: reasons}
}

func keepEmpty(k *config.Keep) bool {
	return k == nil || (k.Last == 0 && k.Hourly == 0 && k.Daily == 0 && k.Weekly == 0 &&
		k.Monthly == 0 && k.Yearly == 0 && withinZero(k.Within))
}

func withinZero(w config.Within) bool {
	return w.Years == 0 && w.Months == 0 && w.Days == 0 && w.Hours == 0
}

// FormatWithin renders a within duration in restic's form, e.g. "1y6m" or
// "2d12h"; zero parts are left out.
func FormatWithin(w config.Within) string {
	var s string
	for _, p := range []struct {
		n    int
		unit string
	}{{w.Years, "y"}, {w.Months, "m"}, {w.Days, "d"}, {w.Hours, "h"}} {
		if p.n != 0 {
			s += fmt.Sprintf("%d%s", p.n, p.unit)
		}
	}
	return s
}
