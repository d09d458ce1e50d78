package planner

import "time"

// JSONFormatVersion is the format_version of plan JSON. Bump it only with
// an incompatible change, and document the change in README.md.
const JSONFormatVersion = "1"

// JSONPlan is the versioned, machine-readable form of a plan: what
// `owui plan --json` prints (a DESIGN.md contract). The text view is
// rendered from it, so the two never disagree.
type JSONPlan struct {
	FormatVersion string       `json:"format_version"`
	Now           string       `json:"now"`
	Actions       []JSONAction `json:"actions"`
	// Verification is, per backup and target with a verify block or any
	// verification on record, the newest verified snapshot and the
	// snapshots that failed verification. Added in owui 0.x without a
	// format_version bump: readers that do not know it can ignore it.
	Verification []JSONVerification `json:"verification,omitempty"`
	// Notes are what refresh found that the plan does nothing about.
	Notes []JSONNote `json:"notes,omitempty"`
}

// JSONVerification is where verification of one backup on one target
// stands.
type JSONVerification struct {
	Backup string `json:"backup"`
	Target string `json:"target"`
	// NewestVerified is the newest complete snapshot whose last
	// verification passed, created at NewestVerifiedCreatedAt and verified
	// at VerifiedAt (read_data: by downloading and checking the data).
	NewestVerified          string `json:"newest_verified,omitempty"`
	NewestVerifiedCreatedAt string `json:"newest_verified_created_at,omitempty"`
	VerifiedAt              string `json:"verified_at,omitempty"`
	ReadData                bool   `json:"read_data,omitempty"`
	// Failed are the snapshots whose last verification failed.
	Failed []string `json:"failed,omitempty"`
}

// JSONNote is a note on one snapshot.
type JSONNote struct {
	Backup   string `json:"backup"`
	Target   string `json:"target"`
	Snapshot string `json:"snapshot"`
	Note     string `json:"note"`
}

// JSONAction is one action of a JSONPlan.
type JSONAction struct {
	Action string `json:"action"`
	Backup string `json:"backup"`
	Target string `json:"target"`
	// Snapshot and CreatedAt name the existing snapshot a prune, repair or
	// verify acts on.
	Snapshot  string `json:"snapshot,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
	Reason    string `json:"reason"`
}

// JSON returns the plan's JSON form: times in RFC 3339 UTC, actions in plan
// order and never null.
func (p Plan) JSON() JSONPlan {
	jp := JSONPlan{
		FormatVersion: JSONFormatVersion,
		Now:           p.Now.UTC().Format(time.RFC3339),
		Actions:       make([]JSONAction, 0, len(p.Actions)),
	}
	for _, a := range p.Actions {
		ja := JSONAction{
			Action:   string(a.Kind),
			Backup:   a.Backup,
			Target:   a.Target,
			Snapshot: a.Snapshot,
			Reason:   a.Reason,
		}
		if !a.CreatedAt.IsZero() {
			ja.CreatedAt = a.CreatedAt.UTC().Format(time.RFC3339)
		}
		jp.Actions = append(jp.Actions, ja)
	}
	for _, v := range p.Verification {
		jv := JSONVerification{Backup: v.Backup, Target: v.Target, NewestVerified: v.Newest, ReadData: v.ReadData, Failed: v.Failed}
		if v.Newest != "" {
			jv.NewestVerifiedCreatedAt = v.CreatedAt.UTC().Format(time.RFC3339)
			jv.VerifiedAt = v.VerifiedAt.UTC().Format(time.RFC3339)
		}
		jp.Verification = append(jp.Verification, jv)
	}
	for _, n := range p.Notes {
		jp.Notes = append(jp.Notes, JSONNote{Backup: n.Backup, Target: n.Target, Snapshot: n.Snapshot, Note: n.Text})
	}
	return jp
}
