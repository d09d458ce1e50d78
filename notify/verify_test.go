package notify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/planner"
)

// TestEventsVerifyFailed: a verify action that found problems is one
// verify_failed item naming the files, not a failure; one that could not
// run is a failure; a re-verification after drift is also a drift item.
func TestEventsVerifyFailed(t *testing.T) {
	broken := executor.Outcome{
		Action:   planner.Action{Kind: planner.KindVerify, Backup: "daily", Target: "nas", Snapshot: "2026-03-01T030000Z", Reason: planner.ReasonManifestChanged},
		Problems: []string{"uploads/1_a.pdf: sha256 differs", "webui.db: integrity_check: page 3"},
		Err:      errors.New("verify daily/2026-03-01T030000Z on nas: 2 problems"),
	}
	unreachable := executor.Outcome{
		Action: planner.Action{Kind: planner.KindVerify, Backup: "daily", Target: "b2", Snapshot: "2026-03-01T030000Z"},
		Err:    errors.New("open target b2: connection refused"),
	}
	run := Run{Host: "nas1", Ended: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC),
		Outcomes: []executor.Outcome{broken}, Err: broken.Err}
	evs := Events(run)
	kinds := []string{}
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != config.NotifyOnVerifyFailed+","+config.NotifyOnDrift {
		t.Fatalf("event kinds = %v, want verify_failed, drift", kinds)
	}
	text := evs[0].Text()
	for _, want := range []string{"1 snapshot failed verification", "uploads/1_a.pdf", "integrity_check", "owui verify daily --target nas --read-data"} {
		if !strings.Contains(text, want) {
			t.Errorf("verify_failed message lacks %q:\n%s", want, text)
		}
	}
	run.Outcomes = []executor.Outcome{unreachable}
	if evs := Events(run); len(evs) != 1 || evs[0].Kind != config.NotifyOnFailure {
		t.Errorf("a verify that could not run: events = %+v, want one failure", evs)
	}
}
