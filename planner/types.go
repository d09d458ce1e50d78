// Package planner decides what an apply does: Plan(policy, observed, now)
// returns the snapshot, prune and repair actions, each with its reason. It
// never touches the clock, disk or network.
package planner

import "time"

// Kind is what an action does.
type Kind string

// Action kinds, as they appear in plan JSON.
const (
	KindSnapshot Kind = "snapshot"
	KindPrune    Kind = "prune"
	KindRepair   Kind = "repair"
	KindVerify   Kind = "verify"
)

// Status is what is known of an observed snapshot.
type Status string

// Snapshot statuses.
const (
	// StatusComplete: the manifest exists on the target and parses.
	StatusComplete Status = "complete"
	// StatusIncomplete: the target holds the directory but no valid manifest
	// (an interrupted apply's leftovers).
	StatusIncomplete Status = "incomplete"
	// StatusMissing: state records the snapshot complete but the target
	// no longer holds its manifest.
	StatusMissing Status = "missing"
)

// Snapshot is one snapshot as observed on a target (or recorded in state).
type Snapshot struct {
	Backup    string
	Target    string
	ID        string // e.g. 2026-11-26T030000Z
	CreatedAt time.Time
	Status    Status
	// VerifiedAt is when the snapshot's current manifest last passed a
	// verification of any kind, ReadDataVerifiedAt when it last passed one
	// that read the data; zero when never.
	VerifiedAt         time.Time
	ReadDataVerifiedAt time.Time
	// VerifyFailed is true when the last verification of the snapshot's
	// current manifest failed: the snapshot is kept but does not count as
	// the newest complete one (for due-ness and for the rule that the
	// newest is never pruned).
	VerifyFailed bool
	// Drift says how the target's copy differs from what state recorded.
	Drift Drift
	// ManifestSHA256 is the checksum of the snapshot's manifest, which
	// verifications are matched on; the planner does not read it.
	ManifestSHA256 string `json:",omitempty"`
}

// Drift is a change made to a target outside owui, found by refresh. A
// snapshot deleted outside owui is StatusMissing.
type Drift string

// Drifts.
const (
	// DriftChanged: the manifest on the target differs from the one owui
	// recorded.
	DriftChanged Drift = "changed"
	// DriftAdded: a complete snapshot on the target that state did not
	// record, while state records others of the same backup and target.
	DriftAdded Drift = "added"
)

// Observed is what the planner knows of the world: the snapshots on every
// target (after refresh) or as recorded in state, and how long the quiet
// window of each pause or stop backup would last.
type Observed struct {
	Snapshots []Snapshot
	// Windows maps a pause or stop backup's name to what its quiet window
	// would hold, measured before planning; a backup without an entry gets
	// a reason without an estimate.
	Windows map[string]Window
}

// Window is what a pause or stop backup's quiet window would hold if it
// started now: which containers it would pause or stop, and how much it
// would copy while they are held.
type Window struct {
	// Held are the running containers the capture would pause or stop.
	Held []string
	// Idle are containers already paused or not running: left as they are.
	Idle []string
	// Files and Bytes are what is copied inside the window: the SQLite
	// databases, vector_db/ and other changing files (not uploads/).
	Files int
	Bytes int64
	// Unknown says why the window could not be measured; the other fields
	// are then empty.
	Unknown string
}

// Action is one step of a plan.
type Action struct {
	Kind   Kind
	Backup string
	Target string
	// Snapshot and CreatedAt name the existing snapshot for prune, repair and
	// verify; they are empty for snapshot actions.
	Snapshot  string
	CreatedAt time.Time
	// Status is the observed status of the snapshot a repair acts on.
	Status Status
	// ReadData is set on verify actions that download and check the data.
	ReadData bool
	Reason   string
}

// Kept is a snapshot retention keeps, with every rule that keeps it.
type Kept struct {
	Backup    string
	Target    string
	Snapshot  string
	CreatedAt time.Time
	Reasons   []string
	// Planned is true for the snapshot this plan's snapshot action creates;
	// retention counts it so that the plan's prunes are the ones a second
	// plan after apply would make.
	Planned bool
}

// Plan is the planner's output: ordered actions plus what retention keeps.
type Plan struct {
	Now     time.Time
	Actions []Action
	Kept    []Kept
	// Verification is, per backup and target that has a verify block or
	// any verification on record, where verification stands.
	Verification []VerifyState
	// Notes are what the plan noticed but does nothing about (snapshots
	// adopted from the target).
	Notes []Note
}

// VerifyState is where verification of one backup on one target stands.
type VerifyState struct {
	Backup string
	Target string
	// Newest is the newest complete snapshot whose last verification passed
	// (zero ID when none), with when it was verified.
	Newest     string
	CreatedAt  time.Time
	VerifiedAt time.Time
	ReadData   bool
	// Failed are the complete snapshots whose last verification failed.
	Failed []string
}

// Note is something the plan reports about one snapshot without acting.
type Note struct {
	Backup   string
	Target   string
	Snapshot string
	Text     string
}
