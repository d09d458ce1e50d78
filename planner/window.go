package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/internal/units"
)

// AssumedCopyRate is the local copy speed, in bytes per second, that plan
// reasons assume when they estimate how long a quiet window lasts: a
// SQLite backup-API copy and a plain file copy onto a local SSD both run
// at several hundred MB/s; 200 MB/s errs on the long side.
const AssumedCopyRate = 200_000_000

// WindowReason ends the reason of a snapshot of a pause or stop backup
// (CaptureReason for online ones, and when win is nil): which containers
// are held, and for about how long.
func WindowReason(consistency string, win *Window) string {
	if win == nil || consistency == config.ConsistencyOnline || consistency == "" {
		return CaptureReason(consistency)
	}
	mode, verb := "paused", "paused"
	if consistency == config.ConsistencyStop {
		mode, verb = "stopped", "stopped"
	}
	if win.Unknown != "" {
		return CaptureReason(consistency) + " (how long is not known: " + win.Unknown + ")"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "capture %s: ", mode)
	copied := fmt.Sprintf("%d files (%s) are copied locally", win.Files, units.Bytes(win.Bytes))
	if len(win.Held) == 0 {
		fmt.Fprintf(&sb, "no container is running, so none is %s while %s", verb, copied)
	} else {
		est := EstimateWindow(win.Bytes)
		fmt.Fprintf(&sb, "%s %s for about %s", containerList(win.Held), verb, formatEstimate(est))
		if consistency == config.ConsistencyStop {
			them := "it"
			if len(win.Held) > 1 {
				them = "them"
			}
			fmt.Fprintf(&sb, " plus the time to stop and start %s", them)
		}
		fmt.Fprintf(&sb, ", while %s (at an assumed %d MB/s), not during the upload", copied, AssumedCopyRate/1_000_000)
	}
	if len(win.Idle) > 0 {
		them := "it is"
		if len(win.Idle) > 1 {
			them = "they are"
		}
		fmt.Fprintf(&sb, "; %s already paused or not running, left as %s", containerList(win.Idle), them)
	}
	return sb.String()
}

// EstimateWindow is how long copying n bytes locally takes at
// AssumedCopyRate.
func EstimateWindow(n int64) time.Duration {
	return time.Duration(float64(n) / AssumedCopyRate * float64(time.Second))
}

func formatEstimate(d time.Duration) string {
	if d < time.Second {
		return "1s or less"
	}
	return FormatInterval(d.Round(time.Second))
}

func containerList(names []string) string {
	if len(names) == 1 {
		return "container " + names[0]
	}
	return "containers " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
