package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseInterval(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		"go duration":       {in: "90m", want: 90 * time.Minute},
		"go compound":       {in: "6h30m", want: 6*time.Hour + 30*time.Minute},
		"fraction":          {in: "1.5h", want: 90 * time.Minute},
		"seconds":           {in: "45s", want: 45 * time.Second},
		"milliseconds":      {in: "1500ms", want: 1500 * time.Millisecond},
		"day":               {in: "1d", want: 24 * time.Hour},
		"days":              {in: "7d", want: 7 * 24 * time.Hour},
		"weeks":             {in: "2w", want: 14 * 24 * time.Hour},
		"day and hours":     {in: "1d12h", want: 36 * time.Hour},
		"week day hour min": {in: "1w2d3h4m", want: 9*24*time.Hour + 3*time.Hour + 4*time.Minute},
		"fractional day":    {in: "0.5d", want: 12 * time.Hour},
		"zero":              {in: "0s", want: 0},
		"empty":             {in: "", wantErr: true},
		"no unit":           {in: "24", wantErr: true},
		"unknown unit":      {in: "3y", wantErr: true},
		"space":             {in: "1 d", wantErr: true},
		"negative":          {in: "-1h", wantErr: true},
		"sign":              {in: "+1h", wantErr: true},
		"unit only":         {in: "h", wantErr: true},
		"bad number":        {in: "1..5d", wantErr: true},
		"overflow":          {in: "100000000w", wantErr: true},
		"sum overflow":      {in: "2500000h2500000h2500000h2500000h", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseInterval(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseInterval(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseInterval(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseWithin(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Within
		wantErr bool
	}{
		"all units":   {in: "1y6m2d12h", want: Within{Years: 1, Months: 6, Days: 2, Hours: 12}},
		"years":       {in: "2y", want: Within{Years: 2}},
		"months":      {in: "18m", want: Within{Months: 18}},
		"days":        {in: "30d", want: Within{Days: 30}},
		"hours":       {in: "36h", want: Within{Hours: 36}},
		"gap":         {in: "1y12h", want: Within{Years: 1, Hours: 12}},
		"zero":        {in: "0d", want: Within{}},
		"empty":       {in: "", wantErr: true},
		"wrong order": {in: "2d1y", wantErr: true},
		"repeated":    {in: "1d1d", wantErr: true},
		"weeks":       {in: "2w", wantErr: true},
		"minutes":     {in: "30min", wantErr: true},
		"no unit":     {in: "5", wantErr: true},
		"negative":    {in: "-1d", wantErr: true},
		"spaces":      {in: "1y 2d", wantErr: true},
		"overflow":    {in: "99999999999999999999d", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseWithin(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseWithin(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseWithin(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestWithinString(t *testing.T) {
	tests := map[string]Within{
		"1y6m2d12h": {Years: 1, Months: 6, Days: 2, Hours: 12},
		"3d":        {Days: 3},
		"1y12h":     {Years: 1, Hours: 12},
		"0h":        {},
	}
	for want, w := range tests {
		if got := w.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", w, got, want)
		}
		back, err := ParseWithin(w.String())
		if err != nil || back != w {
			t.Errorf("ParseWithin(%q) = %#v, %v; want round trip to %#v", w.String(), back, err, w)
		}
	}
}

func TestWithinCutoff(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		w      Within
		newest time.Time
		want   time.Time
	}{
		"calendar months": {
			w:      Within{Months: 1},
			newest: time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC),
			want:   time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC), // Feb 31 normalises, as in restic
		},
		"all units": {
			w:      Within{Years: 1, Months: 6, Days: 2, Hours: 12},
			newest: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC),
			want:   time.Date(2025, 5, 23, 15, 0, 0, 0, time.UTC),
		},
		"days keep wall time across DST": {
			w:      Within{Days: 1},
			newest: time.Date(2026, 3, 29, 12, 0, 0, 0, berlin),
			want:   time.Date(2026, 3, 28, 12, 0, 0, 0, berlin),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.w.Cutoff(tc.newest); !got.Equal(tc.want) {
				t.Errorf("Cutoff(%s) = %s, want %s", tc.newest, got, tc.want)
			}
		})
	}
}

func TestKeepIsZero(t *testing.T) {
	if !(Keep{}).IsZero() {
		t.Error("Keep{}.IsZero() = false")
	}
	if (Keep{Within: Within{Hours: 1}}).IsZero() {
		t.Error("Keep with within is zero")
	}
	if (Keep{Yearly: -1}).IsZero() {
		t.Error("Keep with yearly = -1 is zero")
	}
}
