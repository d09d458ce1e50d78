package main

import "github.com/owui/owui/executor"

// testHooks is a test seam, nil in owui itself: when set, it wraps the
// executor hooks of every session. The crash tests set it (in TestMain, in
// the owui child process they run) to kill the process at a chosen step of
// an apply, which a timer or a signal from outside cannot hit reliably.
var testHooks func(executor.Hooks) executor.Hooks

// withTestHooks returns h wrapped by testHooks, or h itself.
func withTestHooks(h executor.Hooks) executor.Hooks {
	if testHooks == nil {
		return h
	}
	return testHooks(h)
}
