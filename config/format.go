package config

import (
	"bytes"
	"path/filepath"
	"text/template"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Format returns src in canonical HCL layout (what owui fmt writes). It
// does not parse for validity; run Decode for that.
func Format(src []byte) []byte {
	return hclwrite.Format(src)
}

// DefaultDataDir is the data directory Starter uses when it is given none.
const DefaultDataDir = "/opt/open-webui"

var starterTemplate = template.Must(template.New("owui.hcl").Parse(`# owui policy: what to back up, where to, how often and how much to keep.
# Check it with "owui validate", preview with "owui plan", run with "owui apply".

# Time zone for schedules and retention buckets (default: the host's).
# time_zone = "Europe/Berlin"

instance "main" {
  # The Open WebUI data directory (holds webui.db, vector_db/, uploads/).
  data_dir = {{.DataDir}}
  # Or a Docker volume instead of data_dir:
  # docker_volume = "open-webui"

  # The container; needed for consistency = "pause" or "stop".
  # container = "open-webui"
}

# A local directory outside the data directory. Any rclone remote works too:
#   remote = "b2:OpenWebUI-backups"
target "local" {
  remote = {{.Remote}}

  # Client-side encryption (rclone crypt); keep the password out of git:
  # crypt {
  #   password = env("OWUI_CRYPT_PASSWORD")
  # }
}

backup "daily" {
  instance = instance.main
  to       = [target.local]

  # every = "24h" | "7d" | "2w", or schedule = "daily" | "weekly" | "0 3 * * *"
  every = "24h"

  # Paths relative to the data directory (doublestar globs).
  # Without exclude, cache/** is excluded (re-creatable); a list replaces that.
  exclude = ["cache/**"]

  # online: copy while running (SQLite through its backup API);
  # pause or stop the container for a quiet copy (needs container).
  consistency = "online"

  # restic forget semantics; -1 means unlimited. Without a keep block
  # every snapshot is kept.
  keep {
    daily   = 7
    weekly  = 4
    monthly = 6
  }
}

# Notifications (shoutrrr-style URL; plain http(s) gets a JSON POST).
# notify "ops" {
#   url = "ntfy://ntfy.sh/my-owui"
#   on  = ["failure"]
# }
`))

// Starter returns a commented starter policy (what owui init writes) that
// backs up dataDir, or DefaultDataDir when dataDir is empty.
func Starter(dataDir string) []byte {
	if dataDir == "" {
		dataDir = DefaultDataDir
	}
	remote := "/var/backups/open-webui"
	if pathWithin(filepath.Clean(dataDir), remote) {
		// A sibling of the data directory is never inside it.
		remote = filepath.Clean(dataDir) + "-backups"
	}
	var buf bytes.Buffer
	err := starterTemplate.Execute(&buf, struct{ DataDir, Remote string }{
		DataDir: hclString(dataDir),
		Remote:  hclString(remote),
	})
	if err != nil {
		panic("render starter policy: " + err.Error()) // the template is static
	}
	return Format(buf.Bytes())
}

// hclString renders s as an HCL string literal, escaping quotes and "${".
func hclString(s string) string {
	return string(hclwrite.TokensForValue(cty.StringVal(s)).Bytes())
}
