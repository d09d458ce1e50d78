package unitgen

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/planner"
)

// Slot is when a scheduler should run owui apply: a systemd OnCalendar
// expression and the equivalent crontab time fields, derived from one
// backup's every or schedule. Running apply more often than a backup needs
// is harmless (the planner decides what is due); less often loses snapshots.
type Slot struct {
	// OnCalendar is a systemd calendar expression, with the policy's time
	// zone appended when it sets one.
	OnCalendar string
	// Cron is the five crontab time fields, in the system's time zone.
	Cron string
	// Period is how often the slot fires (the shortest gap for schedules).
	Period time.Duration
	// Why names the backups the slot serves, for a comment.
	Why string
}

// stepMinutes are the run intervals a calendar can express evenly: the
// divisors of an hour and of a day, in minutes.
var stepMinutes = []int{1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440}

// Slots derives the schedule of owui apply from the policy: one slot for the
// shortest every (the largest calendar step that divides it, so the timer
// fires exactly when each snapshot comes due: every 24h fires daily, 6h
// every 6 hours, 90m every 30 minutes, 7d daily), and one per distinct
// schedule expression, translated to OnCalendar. Slots are sorted by period.
func Slots(p *config.Policy) []Slot {
	var out []Slot
	var shortest time.Duration
	var everyNames []string
	schedules := map[string][]string{}
	for _, b := range p.Backups {
		switch {
		case b.Every > 0:
			if shortest == 0 || b.Every < shortest {
				shortest = b.Every
			}
			everyNames = append(everyNames, b.Name)
		case b.Schedule != "":
			schedules[b.Schedule] = append(schedules[b.Schedule], b.Name)
		}
	}
	zone := zoneSuffix(p.Location)
	if shortest > 0 {
		step := stepFor(shortest)
		out = append(out, Slot{
			OnCalendar: stepCalendar(step) + zone,
			Cron:       stepCron(step),
			Period:     time.Duration(step) * time.Minute,
			Why:        fmt.Sprintf("shortest every = %q of %s", formatEvery(shortest), strings.Join(everyNames, ", ")),
		})
	}
	exprs := make([]string, 0, len(schedules))
	for e := range schedules {
		exprs = append(exprs, e)
	}
	slices.Sort(exprs)
	for _, e := range exprs {
		var b *config.Backup
		for _, cand := range p.Backups {
			if cand.Schedule == e {
				b = cand
				break
			}
		}
		period := schedulePeriod(b.Cron, p.Location)
		spec := cronSpec(e)
		s := Slot{Cron: spec, Period: period, Why: fmt.Sprintf("schedule = %q of %s", e, strings.Join(schedules[e], ", "))}
		if cal, ok := cronToCalendar(spec); ok {
			s.OnCalendar = cal + zone
		} else {
			step := stepFor(period)
			s.OnCalendar = stepCalendar(step) + zone
			s.Why += " (not expressible as OnCalendar: the timer fires every " + formatEvery(time.Duration(step)*time.Minute) + " and owui decides)"
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b Slot) int { return int(a.Period - b.Period) })
	return out
}

// stepFor is the largest calendar step, in minutes, that divides d (one
// minute when d is not a whole number of minutes).
func stepFor(d time.Duration) int {
	if d%time.Minute != 0 {
		return 1
	}
	m := int(d / time.Minute)
	best := 1
	for _, s := range stepMinutes {
		if s <= m && m%s == 0 {
			best = s
		}
	}
	return best
}

func stepCalendar(step int) string {
	switch {
	case step < 60:
		return fmt.Sprintf("*-*-* *:00/%d:00", step)
	case step < 1440:
		return fmt.Sprintf("*-*-* 00/%d:00:00", step/60)
	default:
		return "*-*-* 00:00:00"
	}
}

func stepCron(step int) string {
	switch {
	case step == 1:
		return "* * * * *"
	case step < 60:
		return fmt.Sprintf("*/%d * * * *", step)
	case step == 60:
		return "0 * * * *"
	case step < 1440:
		return fmt.Sprintf("0 */%d * * *", step/60)
	default:
		return "0 0 * * *"
	}
}

// namedCron mirrors the config package's named schedules.
var namedCron = map[string]string{
	"hourly":  "0 * * * *",
	"daily":   "0 0 * * *",
	"weekly":  "0 0 * * 0",
	"monthly": "0 0 1 * *",
}

func cronSpec(expr string) string {
	if s, ok := namedCron[expr]; ok {
		return s
	}
	return strings.Join(strings.Fields(expr), " ")
}

// schedulePeriod is the shortest gap between the schedule's slots over the
// next few weeks.
func schedulePeriod(s config.Schedule, loc *time.Location) time.Duration {
	if s == nil {
		return time.Hour
	}
	if loc == nil {
		loc = time.Local
	}
	t := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, loc))
	var shortest time.Duration
	for i := 0; i < 200 && !t.IsZero(); i++ {
		next := s.Next(t)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(t); shortest == 0 || gap < shortest {
			shortest = gap
		}
		t = next
	}
	if shortest == 0 {
		return 24 * time.Hour
	}
	return shortest
}

var weekdays = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

// cronToCalendar translates a 5-field cron expression into a systemd
// calendar expression. It handles numbers, lists, ranges and steps; cron's
// "day-of-month OR day-of-week" rule (when both are restricted) and month or
// day names have no OnCalendar equivalent, so it reports false for them.
func cronToCalendar(spec string) (string, bool) {
	f := strings.Fields(spec)
	if len(f) != 5 {
		return "", false
	}
	if f[2] != "*" && f[4] != "*" {
		return "", false
	}
	var parts [4]string
	for i, idx := range []int{0, 1, 2, 3} {
		v, ok := calendarField(f[idx])
		if !ok {
			return "", false
		}
		parts[i] = v
	}
	min, hour, dom, mon := parts[0], parts[1], parts[2], parts[3]
	cal := fmt.Sprintf("*-%s-%s %s:%s:00", mon, dom, hour, min)
	if f[4] != "*" {
		dow, ok := weekdayField(f[4])
		if !ok {
			return "", false
		}
		cal = dow + " " + cal
	}
	return cal, true
}

// calendarField translates one numeric cron field.
func calendarField(s string) (string, bool) {
	var out []string
	for _, item := range strings.Split(s, ",") {
		base, step, hasStep := strings.Cut(item, "/")
		if hasStep {
			if _, err := strconv.Atoi(step); err != nil {
				return "", false
			}
		}
		switch {
		case base == "*" && hasStep:
			out = append(out, "00/"+step)
		case base == "*":
			out = append(out, "*")
		case strings.Contains(base, "-"):
			if hasStep {
				return "", false
			}
			lo, hi, _ := strings.Cut(base, "-")
			if !isNum(lo) || !isNum(hi) {
				return "", false
			}
			out = append(out, lo+".."+hi)
		case isNum(base):
			if hasStep {
				out = append(out, base+"/"+step)
			} else {
				out = append(out, base)
			}
		default:
			return "", false
		}
	}
	return strings.Join(out, ","), true
}

func weekdayField(s string) (string, bool) {
	var out []string
	for _, item := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > 7 {
			return "", false
		}
		if !isRange {
			out = append(out, weekdays[a])
			continue
		}
		b, err := strconv.Atoi(hi)
		if err != nil || b < a || b > 7 {
			return "", false
		}
		if b == 7 { // Sunday as 7 ends a range: Fri..Sun is fine for systemd
			out = append(out, weekdays[a]+"..Sun")
			continue
		}
		out = append(out, weekdays[a]+".."+weekdays[b])
	}
	return strings.Join(out, ","), true
}

func isNum(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil && s != ""
}

func zoneSuffix(loc *time.Location) string {
	if loc == nil || loc == time.Local || loc.String() == "Local" {
		return ""
	}
	return " " + loc.String()
}

// formatEvery renders a duration as the policy would write it.
func formatEvery(d time.Duration) string {
	switch {
	case d%(7*24*time.Hour) == 0:
		return fmt.Sprintf("%dw", d/(7*24*time.Hour))
	case d > 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return planner.FormatInterval(d)
}
