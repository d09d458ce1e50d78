package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// namedSchedules maps the schedule names to cron expressions: the start of
// each hour, day (midnight), week (Sunday midnight, as cron's @weekly) and
// month, in the policy's time zone.
var namedSchedules = map[string]string{
	"hourly":  "0 * * * *",
	"daily":   "0 0 * * *",
	"weekly":  "0 0 * * 0",
	"monthly": "0 0 1 * *",
}

// ParseSchedule parses a schedule attribute: "hourly", "daily", "weekly",
// "monthly" or a 5-field cron expression (minute hour day-of-month month
// day-of-week). The result computes its slots in loc whatever the location
// of the time passed to Next. Cron descriptors ("@daily", "@every") and
// CRON_TZ prefixes are rejected: the policy's time_zone sets the zone.
func ParseSchedule(s string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = time.Local
	}
	spec := s
	if named, ok := namedSchedules[s]; ok {
		spec = named
	}
	if strings.HasPrefix(spec, "@") {
		return nil, errors.New("cron descriptors such as @daily are not accepted")
	}
	if strings.Contains(spec, "=") {
		return nil, errors.New("TZ and CRON_TZ prefixes are not accepted; set time_zone instead")
	}
	if n := len(strings.Fields(spec)); n != 5 {
		return nil, fmt.Errorf("a cron expression has 5 fields (minute hour day-of-month month day-of-week), this has %d", n)
	}
	parsed, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	cs, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, errors.New("not a cron expression")
	}
	cs.Location = loc
	return zonedSchedule{spec: cs, loc: loc}, nil
}

// zonedSchedule evaluates a cron spec in a fixed location. cron treats a
// spec whose Location is time.Local as "the location of t", which would
// make Next depend on how the caller's time happens to be expressed.
type zonedSchedule struct {
	spec *cron.SpecSchedule
	loc  *time.Location
}

// Next returns the first slot strictly after t, in t's location.
func (z zonedSchedule) Next(t time.Time) time.Time {
	next := z.spec.Next(t.In(z.loc))
	if next.IsZero() {
		return next
	}
	return next.In(t.Location())
}
