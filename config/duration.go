package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// goUnits are the units time.ParseDuration accepts.
var goUnits = map[string]bool{"ns": true, "us": true, "µs": true, "μs": true, "ms": true, "s": true, "m": true, "h": true}

// ParseInterval parses an every interval: a Go duration ("90m", "6h30m")
// whose terms may also use d (24h) and w (7d), as in "7d", "2w" or "1d12h".
// Days are fixed 24-hour spans, not calendar days. Signs are not accepted.
func ParseInterval(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty interval")
	}
	var total time.Duration
	for rest := s; rest != ""; {
		num := prefixLen(rest, func(c byte) bool { return c >= '0' && c <= '9' || c == '.' })
		if num == 0 {
			return 0, fmt.Errorf("invalid interval %q: expected a number at %q", s, rest)
		}
		unitLen := prefixLen(rest[num:], func(c byte) bool { return !(c >= '0' && c <= '9' || c == '.') })
		number, unit := rest[:num], rest[num:num+unitLen]
		rest = rest[num+unitLen:]

		var d time.Duration
		switch {
		case unit == "":
			return 0, fmt.Errorf("invalid interval %q: missing unit after %s (use s, m, h, d or w)", s, number)
		case unit == "d" || unit == "w":
			f, err := strconv.ParseFloat(number, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid interval %q: bad number %q", s, number)
			}
			per := 24 * time.Hour
			if unit == "w" {
				per *= 7
			}
			v := f * float64(per)
			if v >= math.MaxInt64 {
				return 0, fmt.Errorf("invalid interval %q: out of range", s)
			}
			d = time.Duration(v)
		case goUnits[unit]:
			var err error
			if d, err = time.ParseDuration(number + unit); err != nil {
				return 0, fmt.Errorf("invalid interval %q: bad term %q", s, number+unit)
			}
		default:
			return 0, fmt.Errorf("invalid interval %q: unknown unit %q (use s, m, h, d or w)", s, unit)
		}
		if total+d < total {
			return 0, fmt.Errorf("invalid interval %q: out of range", s)
		}
		total += d
	}
	return total, nil
}

func prefixLen(s string, ok func(byte) bool) int {
	i := 0
	for i < len(s) && ok(s[i]) {
		i++
	}
	return i
}

var withinPattern = regexp.MustCompile(`^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$`)

// ParseWithin parses restic's --keep-within form: "1y6m2d12h", where m is
// months. Each unit appears at most once, in the order y, m, d, h, and at
// least one must be present.
func ParseWithin(s string) (Within, error) {
	m := withinPattern.FindStringSubmatch(s)
	if s == "" || m == nil {
		return Within{}, fmt.Errorf("invalid within duration %q: use numbers with the units y, m (months), d and h in that order, such as \"1y6m2d12h\"", s)
	}
	var n [4]int
	for i, part := range m[1:] {
		if part == "" {
			continue
		}
		v, err := strconv.Atoi(part)
		if err != nil {
			return Within{}, fmt.Errorf("invalid within duration %q: %q is out of range", s, part)
		}
		n[i] = v
	}
	return Within{Years: n[0], Months: n[1], Days: n[2], Hours: n[3]}, nil
}

// IsZero reports whether w keeps nothing.
func (w Within) IsZero() bool { return w == Within{} }

// String returns w in the form ParseWithin reads, omitting zero units;
// the zero Within is "0h".
func (w Within) String() string {
	var b strings.Builder
	for _, u := range []struct {
		n    int
		unit string
	}{{w.Years, "y"}, {w.Months, "m"}, {w.Days, "d"}, {w.Hours, "h"}} {
		if u.n != 0 {
			fmt.Fprintf(&b, "%d%s", u.n, u.unit)
		}
	}
	if b.Len() == 0 {
		return "0h"
	}
	return b.String()
}

// Cutoff returns the instant w before newest, computed as restic does:
// calendar years, months and days back in newest's location, then hours.
// Snapshots created after the cutoff are kept by the within rule.
func (w Within) Cutoff(newest time.Time) time.Time {
	return newest.AddDate(-w.Years, -w.Months, -w.Days).Add(-time.Duration(w.Hours) * time.Hour)
}
