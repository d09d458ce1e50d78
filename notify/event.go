// Package notify tells people about runs: it builds events from what an
// apply did (failure, success, drift, stale), renders them as messages that
// name the backup, the target, what happened and what to do, and delivers
// them to a notify block's url (any shoutrrr service; a plain http(s) URL
// gets a JSON POST) and healthchecks-style ping URL. Notification URLs are
// secrets: no error or log line this package returns carries one.
package notify

import (
	"fmt"
	"strings"
	"time"
)

// FormatVersion is the format_version of the JSON POST body.
const FormatVersion = "1"

// Event is one notification: what kind of thing happened, and each backup
// and target it happened to.
type Event struct {
	// Kind is one of config.NotifyEvents.
	Kind string
	// Host is the machine owui ran on.
	Host string
	// Time is when the run ended.
	Time  time.Time
	Items []Item
}

// Item is what happened to one backup on one target (either may be empty
// when the run failed before it reached any backup).
type Item struct {
	Backup   string `json:"backup,omitempty"`
	Target   string `json:"target,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	// What says what happened, in words: "snapshot failed".
	What string `json:"what"`
	// Error is the error text, when there was one.
	Error string `json:"error,omitempty"`
	// Todo says what the reader should do about it.
	Todo string `json:"what_to_do,omitempty"`
}

// Title is a one-line summary, such as "owui on nas1: 1 backup failed".
func (e Event) Title() string {
	n := len(e.Items)
	plural := func(word string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s", word)
		}
		return fmt.Sprintf("%d %ss", n, word)
	}
	var what string
	switch e.Kind {
	case "failure":
		what = plural("action") + " failed"
	case "success":
		what = "backups succeeded"
	case "drift":
		what = "targets drifted from state (" + plural("change") + ")"
	case "stale":
		what = plural("backup") + " overdue"
	case "verify_failed":
		what = plural("snapshot") + " failed verification"
	default:
		what = e.Kind
	}
	return fmt.Sprintf("owui on %s: %s", e.Host, what)
}

// Text is the message body: the title, then one paragraph per item.
func (e Event) Text() string {
	var b strings.Builder
	b.WriteString(e.Title())
	b.WriteString("\n")
	for _, it := range e.Items {
		b.WriteString("\n")
		switch {
		case it.Backup != "" && it.Target != "":
			fmt.Fprintf(&b, "Backup %q → target %q: %s", it.Backup, it.Target, it.What)
		case it.Backup != "":
			fmt.Fprintf(&b, "Backup %q: %s", it.Backup, it.What)
		default:
			b.WriteString(capitalize(it.What))
		}
		if it.Snapshot != "" {
			fmt.Fprintf(&b, " (snapshot %s)", it.Snapshot)
		}
		b.WriteString(".\n")
		if it.Error != "" {
			fmt.Fprintf(&b, "Error: %s\n", it.Error)
		}
		if it.Todo != "" {
			fmt.Fprintf(&b, "What to do: %s\n", it.Todo)
		}
	}
	return b.String()
}

// jsonBody is the body of the JSON POST to a plain http(s) url.
type jsonBody struct {
	FormatVersion string `json:"format_version"`
	Event         string `json:"event"`
	Host          string `json:"host"`
	Time          string `json:"time"`
	Title         string `json:"title"`
	Message       string `json:"message"`
	Items         []Item `json:"items"`
}

func (e Event) jsonBody() jsonBody {
	items := e.Items
	if items == nil {
		items = []Item{}
	}
	return jsonBody{
		FormatVersion: FormatVersion,
		Event:         e.Kind,
		Host:          e.Host,
		Time:          e.Time.UTC().Format(time.RFC3339),
		Title:         e.Title(),
		Message:       e.Text(),
		Items:         items,
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
