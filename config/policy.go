// Package config decodes an owui policy (HCL) into a typed, validated Policy.
//
// Decoding is pure: it takes the policy's bytes and file name and returns a
// Policy plus hcl.Diagnostics, each with a source range. Reading the file is
// a thin wrapper (LoadFile).
package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Consistency modes for a backup.
const (
	ConsistencyOnline = "online"
	ConsistencyPause  = "pause"
	ConsistencyStop   = "stop"
)

// Compression settings for a backup.
const (
	CompressionNone = "none"
	CompressionZstd = "zstd"
)

// Policy is a decoded, validated owui policy. Slices are sorted by name.
type Policy struct {
	// Filename is the name the policy was decoded under, for diagnostics.
	Filename string
	// Location is the time zone schedules and retention buckets are computed
	// in: the policy's time_zone attribute, else DecodeOptions.DefaultLocation,
	// else time.Local (which honours TZ).
	Location  *time.Location
	Instances []*Instance
	Targets   []*Target
	Backups   []*Backup
	Notifies  []*Notify
}

// Instance is an Open WebUI data source.
type Instance struct {
	Name string
	// DataDir is the cleaned path of the data directory, made absolute
	// against DecodeOptions.BaseDir when written relative. Empty when the
	// data is found through Docker: DockerVolume, or else the mount at
	// /app/backend/data of Container (or of ComposeProject's Open WebUI
	// container), resolved when a backup runs.
	DataDir string
	// DockerVolume names a Docker volume holding the data directory.
	DockerVolume string
	// Container names the Open WebUI container (needed for pause and stop,
	// and to capture its secret key and image).
	Container string
	// ComposeProject names a Docker Compose project: its container that
	// mounts /app/backend/data is the Open WebUI container when Container
	// is not set, and stop also stops the project's other containers that
	// write to the same data.
	ComposeProject string
	DeclRange      hcl.Range
}

// UsesDocker reports whether the instance is found or held through the
// Docker Engine.
func (i *Instance) UsesDocker() bool {
	return i.DockerVolume != "" || i.Container != "" || i.ComposeProject != ""
}

// Target is a place snapshots are copied to: an rclone remote, connection
// string or local path.
type Target struct {
	Name string
	// Remote is the rclone remote ("b2:bucket/path"), connection string
	// (":s3,provider=Minio:bucket") or local path as written; a relative local
	// path is made absolute against DecodeOptions.BaseDir (see IsLocal).
	Remote string
	// Crypt, when set, wraps the remote in rclone crypt.
	Crypt     *Crypt
	DeclRange hcl.Range
}

// Crypt holds client-side encryption settings. Its fields are secrets: they
// never appear in plans, logs, state or manifests.
type Crypt struct {
	Password string
	// Salt is rclone crypt's optional second password (password2).
	Salt string
}

// Backup is one backup rule: which instance goes to which targets, when and
// how many snapshots are kept.
type Backup struct {
	Name     string
	Instance string   // name of an Instance in the same Policy
	To       []string // names of Targets, in policy order
	// Every is the interval between snapshots; zero when Schedule is used.
	Every time.Duration
	// Schedule is the schedule expression as written ("daily", "0 3 * * *");
	// empty when Every is used.
	Schedule string
	// Cron is Schedule parsed; nil when Every is used.
	Cron    Schedule
	Include []string // doublestar globs relative to the data dir; empty means all
	// Exclude holds doublestar globs relative to the data dir; DefaultExclude
	// when the policy sets no exclude (an explicit list replaces it).
	Exclude []string
	// Consistency is one of ConsistencyOnline, ConsistencyPause, ConsistencyStop.
	Consistency string
	// Compression is CompressionNone or CompressionZstd: with zstd, the
	// SQLite copies are stored as <path>.zst, which the zstd command line
	// opens.
	Compression string
	// Keep is nil when the backup has no keep block: every snapshot is kept.
	Keep *Keep
	// Trigger is nil when the backup has no trigger block.
	Trigger *Trigger
	// Verify is nil when the backup has no verify block (no drills).
	Verify    *Verify
	DeclRange hcl.Range
}

// Verify makes the planner schedule verification drills of a backup: the
// newest good snapshot on each target is verified when no verification of
// it (or of a newer one) is younger than Every.
type Verify struct {
	Every time.Duration
	// ReadData downloads every file and checks checksums, SQLite integrity
	// and cross-references; without it only the listing is checked.
	ReadData  bool
	DeclRange hcl.Range
}

// Trigger starts snapshots in owui watch when the data directory changes,
// in addition to every or schedule.
type Trigger struct {
	// OnChange is true when changes to the backup's files start a snapshot.
	OnChange bool
	// Debounce is how long the files must stay quiet before the snapshot
	// starts (DefaultDebounce unless set).
	Debounce time.Duration
	// MinInterval is the least time between the newest complete snapshot and
	// a change-triggered one (DefaultMinInterval unless set).
	MinInterval time.Duration
	DeclRange   hcl.Range
}

// Trigger defaults.
const (
	DefaultDebounce    = 5 * time.Minute
	DefaultMinInterval = time.Hour
)

// Schedule is a parsed schedule: Next returns the first slot strictly after t.
type Schedule interface {
	Next(t time.Time) time.Time
}

// Keep is a retention policy with restic forget semantics. A count of -1
// means unlimited; 0 means the rule is unused.
type Keep struct {
	Last    int
	Hourly  int
	Daily   int
	Weekly  int
	Monthly int
	Yearly  int
	// Within keeps every snapshot newer than the newest one minus Within.
	Within Within
}

// Within is restic's duration form "1y6m2d12h" (m = months).
type Within struct {
	Years, Months, Days, Hours int
}

// Notify sends notifications about runs.
type Notify struct {
	Name string
	// URL is a shoutrrr-style or http(s) URL; empty when the block only sets
	// HealthcheckURL. It may carry tokens: treat it as a secret.
	URL string
	// HealthcheckURL is a healthchecks.io-style ping URL (without a trailing
	// slash): every run pings URL/start, then URL on success or URL/fail with
	// the error in the body, whatever On says. A secret, like URL.
	HealthcheckURL string
	// On lists the events URL is sent, sorted, from NotifyEvents;
	// [NotifyOnFailure] when the policy sets none.
	On        []string
	DeclRange hcl.Range
}

// Instance returns the named instance, or nil.
func (p *Policy) Instance(name string) *Instance {
	for _, i := range p.Instances {
		if i.Name == name {
			return i
		}
	}
	return nil
}

// Target returns the named target, or nil.
func (p *Policy) Target(name string) *Target {
	for _, t := range p.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Backup returns the named backup, or nil.
func (p *Policy) Backup(name string) *Backup {
	for _, b := range p.Backups {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// Notify returns the named notify block, or nil.
func (p *Policy) Notify(name string) *Notify {
	for _, n := range p.Notifies {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// IsZero reports whether k sets no rule.
func (k Keep) IsZero() bool { return k == Keep{} }
