//go:build race

package stage

// raceEnabled shrinks the load tests: the race detector slows the
// transpiled SQLite engine about twentyfold.
const raceEnabled = true
