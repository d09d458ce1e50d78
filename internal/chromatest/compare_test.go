package chromatest

import (
	"slices"
	"testing"
	"time"
)

func TestSameNeighbours(t *testing.T) {
	want := Neighbours{IDs: []string{"a", "b", "c"}, Distances: []float64{1, 2, 2}}
	tests := map[string]struct {
		got Neighbours
		ok  bool
	}{
		"equal":               {got: want, ok: true},
		"float32 rounding":    {got: Neighbours{IDs: []string{"a", "b", "c"}, Distances: []float64{1.000001, 2, 2}}, ok: true},
		"tie in either order": {got: Neighbours{IDs: []string{"a", "c", "b"}, Distances: []float64{1, 2, 2}}, ok: true},
		"swapped, not tied":   {got: Neighbours{IDs: []string{"b", "a", "c"}, Distances: []float64{1, 2, 2}}},
		"other neighbour":     {got: Neighbours{IDs: []string{"a", "b", "d"}, Distances: []float64{1, 2, 2}}},
		"other distance":      {got: Neighbours{IDs: []string{"a", "b", "c"}, Distances: []float64{1, 2, 2.01}}},
		"fewer neighbours":    {got: Neighbours{IDs: []string{"a", "b"}, Distances: []float64{1, 2}}},
		"distances missing":   {got: Neighbours{IDs: []string{"a", "b", "c"}}},
		"no answer":           {got: Neighbours{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := SameNeighbours(tc.got, want)
			if (err == nil) != tc.ok {
				t.Errorf("SameNeighbours(%v, %v) = %v, want ok %v", tc.got, want, err, tc.ok)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	base := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	var states []State
	for i, sent := range []int{0, 100, 200, 300, 400} {
		states = append(states, State{Seq: i, Sent: at(sent).UnixMilli()})
	}
	tests := map[string]struct {
		from, to Mark
		want     []int
	}{
		// State 1 was seen before the capture began: states before it were
		// already superseded; state 3 was sent before it ended.
		"straddles":      {from: Mark{Seen: 2, At: at(150)}, to: Mark{Seen: 3, At: at(300)}, want: []int{1, 2, 3}},
		"between states": {from: Mark{Seen: 3, At: at(210)}, to: Mark{Seen: 3, At: at(250)}, want: []int{2}},
		"before any":     {from: Mark{Seen: 0, At: at(-10)}, to: Mark{Seen: 0, At: at(-5)}, want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []int
			for _, s := range Window(states, tc.from, tc.to) {
				got = append(got, s.Seq)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Window = %v, want %v", got, tc.want)
			}
		})
	}
}
