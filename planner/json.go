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
	return jp
}
