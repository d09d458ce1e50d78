package chromatest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// distanceTolerance is the relative difference under which two distances
// are the same: a server computes a distance from its HNSW index or, for
// records not yet indexed, by brute force, and the two may round the last
// float32 bit differently. Neighbours of random vectors are much further
// apart than that.
const distanceTolerance = 1e-5

// Match returns the first of candidates that r holds exactly: the same
// collections, each one an intact prefix of the writer's data set with the
// state's count, and the same nearest neighbours for every query. When none
// matches, the error says why, for each candidate with the same counts or,
// when no candidate has them, which counts were possible.
func Match(r Result, candidates []State) (State, error) {
	var errs []error
	for _, c := range r.Collections {
		if len(c.Problems) > 0 {
			errs = append(errs, fmt.Errorf("collection %s (count %d) is not a prefix of the written data: %s",
				c.Name, c.Count, strings.Join(c.Problems, "; ")))
		}
	}
	if len(errs) > 0 {
		return State{}, errors.Join(errs...)
	}
	counts := r.Counts()
	for _, s := range candidates {
		if !equalCounts(counts, s.Counts) {
			continue
		}
		if err := sameQueries(r, s); err != nil {
			errs = append(errs, fmt.Errorf("state %d has the counts %v but other query results: %w", s.Seq, counts, err))
			continue
		}
		return s, nil
	}
	if len(errs) > 0 {
		return State{}, errors.Join(errs...)
	}
	possible := make([]string, len(candidates))
	for i, s := range candidates {
		possible[i] = fmt.Sprintf("state %d %v", s.Seq, s.Counts)
	}
	return State{}, fmt.Errorf("counts %v are none of the %d possible: %s", counts, len(candidates), strings.Join(possible, ", "))
}

// Counts returns the count of every collection by name.
func (r Result) Counts() map[string]int {
	m := make(map[string]int, len(r.Collections))
	for _, c := range r.Collections {
		m[c.Name] = c.Count
	}
	return m
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sameQueries(r Result, s State) error {
	var errs []error
	for _, c := range r.Collections {
		want := s.Queries[c.Name]
		if len(c.Queries) != len(want) {
			errs = append(errs, fmt.Errorf("%s: %d queries answered, want %d", c.Name, len(c.Queries), len(want)))
			continue
		}
		for i := range want {
			if err := SameNeighbours(c.Queries[i], want[i]); err != nil {
				errs = append(errs, fmt.Errorf("%s query %d: %w", c.Name, i, err))
			}
		}
	}
	return errors.Join(errs...)
}

// SameNeighbours reports whether two answers to one query agree: the same
// ids at the same distances, nearest first. Ids whose distances tie (within
// distanceTolerance) may come in either order.
func SameNeighbours(got, want Neighbours) error {
	mismatch := func() error {
		return fmt.Errorf("got %v at %v, want %v at %v", got.IDs, got.Distances, want.IDs, want.Distances)
	}
	if len(got.IDs) != len(want.IDs) || len(got.Distances) != len(got.IDs) || len(want.Distances) != len(want.IDs) {
		return mismatch()
	}
	for i := range got.Distances {
		if !sameDistance(got.Distances[i], want.Distances[i]) {
			return mismatch()
		}
	}
	// Compare the ids of each run of tied distances as sets.
	for lo := 0; lo < len(want.IDs); {
		hi := lo + 1
		for hi < len(want.IDs) && sameDistance(want.Distances[hi], want.Distances[lo]) {
			hi++
		}
		a, b := slices.Clone(got.IDs[lo:hi]), slices.Clone(want.IDs[lo:hi])
		sort.Strings(a)
		sort.Strings(b)
		if !slices.Equal(a, b) {
			return mismatch()
		}
		lo = hi
	}
	return nil
}

func sameDistance(a, b float64) bool {
	return math.Abs(a-b) <= distanceTolerance*math.Max(math.Abs(a), math.Abs(b))
}
