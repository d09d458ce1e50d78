package planner

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// RenderOptions configures RenderText.
type RenderOptions struct {
	// Color adds ANSI colors; the caller decides (TTY, --no-color, NO_COLOR).
	Color bool
}

// ANSI escapes used when RenderOptions.Color is set.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// actionStyles are the symbol, color and summary order of each action kind.
var actionStyles = []struct {
	kind   Kind
	symbol string
	color  string
}{
	{KindSnapshot, "+", ansiGreen},
	{KindPrune, "-", ansiRed},
	{KindRepair, "~", ansiYellow},
	{KindVerify, "?", ansiCyan},
}

// RenderText writes the human form of a plan, Terraform style: a header, a
// legend of the symbols in use, one line per action with its reason, and a
// summary. It reads only the JSON form, so text and JSON never disagree. It
// returns the first write error.
func RenderText(w io.Writer, jp JSONPlan, opts RenderOptions) error {
	paint := func(color, s string) string {
		if !opts.Color {
			return s
		}
		return color + s + ansiReset
	}
	var sb strings.Builder
	if len(jp.Actions) == 0 {
		sb.WriteString(paint(ansiBold, "No changes.") + " Backups match the policy.\n")
		renderAside(&sb, jp, paint)
		_, err := io.WriteString(w, sb.String())
		return err
	}

	counts := map[Kind]int{}
	for _, a := range jp.Actions {
		counts[Kind(a.Action)]++
	}
	fmt.Fprintf(&sb, "owui plan at %s\n\nActions are shown with these symbols:\n", jp.Now)
	for _, st := range actionStyles {
		if counts[st.kind] > 0 {
			fmt.Fprintf(&sb, "  %s %s\n", paint(st.color, st.symbol), st.kind)
		}
	}
	sb.WriteString("\nowui will perform the following actions:\n\n")
	for _, a := range jp.Actions {
		symbol, color := "*", ansiBold
		for _, st := range actionStyles {
			if string(st.kind) == a.Action {
				symbol, color = st.symbol, st.color
			}
		}
		fmt.Fprintf(&sb, "  %s %s\n", paint(color, symbol), actionLine(a))
		fmt.Fprintf(&sb, "    reason: %s\n", a.Reason)
	}

	fmt.Fprintf(&sb, "\n%s %d to snapshot, %d to prune, %d to repair",
		paint(ansiBold, "Plan:"), counts[KindSnapshot], counts[KindPrune], counts[KindRepair])
	if n := counts[KindVerify]; n > 0 {
		fmt.Fprintf(&sb, ", %d to verify", n)
	}
	sb.WriteString(".\n")
	renderAside(&sb, jp, paint)
	_, err := io.WriteString(w, sb.String())
	return err
}

// renderAside writes the verification summary and the notes, when there
// are any: per backup and target the age of the newest verified snapshot
// (the newest recovery point known to restore), and every snapshot that
// failed verification.
func renderAside(sb *strings.Builder, jp JSONPlan, paint func(color, s string) string) {
	now, _ := time.Parse(time.RFC3339, jp.Now)
	age := func(ts string) string {
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			return ts
		}
		return FormatAge(now.Sub(t))
	}
	if len(jp.Verification) > 0 {
		sb.WriteString("\nVerification:\n")
	}
	for _, v := range jp.Verification {
		if v.NewestVerified == "" {
			fmt.Fprintf(sb, "  %s → %s: no verified snapshot\n", v.Backup, v.Target)
		} else {
			how := "listing check"
			if v.ReadData {
				how = "read-data check"
			}
			fmt.Fprintf(sb, "  %s → %s: newest verified snapshot %s is %s old (verified %s ago, %s)\n",
				v.Backup, v.Target, v.NewestVerified, age(v.NewestVerifiedCreatedAt), age(v.VerifiedAt), how)
		}
		for _, id := range v.Failed {
			fmt.Fprintf(sb, "  %s %s/%s on %s failed verification: kept, but it does not count as the newest complete snapshot (owui verify names what failed)\n",
				paint(ansiRed, "!"), v.Backup, id, v.Target)
		}
	}
	if len(jp.Notes) > 0 {
		sb.WriteString("\nNotes:\n")
	}
	for _, n := range jp.Notes {
		fmt.Fprintf(sb, "  %s/%s on %s: %s\n", n.Backup, n.Snapshot, n.Target, n.Note)
	}
}

// actionLine names what an action acts on: a new snapshot goes to a target
// ("snapshot daily → b2"); the others act on an existing one, named by its
// path under the target ("prune daily/2026-11-01T030000Z on b2").
func actionLine(a JSONAction) string {
	if a.Snapshot == "" {
		return fmt.Sprintf("%s %s → %s", a.Action, a.Backup, a.Target)
	}
	return fmt.Sprintf("%s %s/%s on %s", a.Action, a.Backup, a.Snapshot, a.Target)
}

// RenderKept writes what retention keeps, one snapshot a line with every
// rule that keeps it; the snapshot a due plan will make is marked planned.
func RenderKept(w io.Writer, kept []Kept) error {
	for _, k := range kept {
		planned := ""
		if k.Planned {
			planned = " (planned)"
		}
		if _, err := fmt.Fprintf(w, "%s → %s  %s%s  %s\n", k.Backup, k.Target, k.Snapshot, planned, strings.Join(k.Reasons, ", ")); err != nil {
			return err
		}
	}
	return nil
}
