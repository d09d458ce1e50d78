package config

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Notification events accepted in a notify block's on list.
const (
	// NotifyOnSuccess fires after an apply that did work and had no error.
	NotifyOnSuccess = "success"
	// NotifyOnFailure fires after an apply that failed in any step.
	NotifyOnFailure = "failure"
	// NotifyOnDrift fires when a refresh finds the targets disagreeing with
	// state: snapshots gone from a target, or leftovers of an interrupted run.
	NotifyOnDrift = "drift"
	// NotifyOnVerifyFailed fires when verification finds a damaged snapshot.
	NotifyOnVerifyFailed = "verify_failed"
	// NotifyOnStale fires when a backup's newest complete snapshot on a
	// target is overdue by more than its interval.
	NotifyOnStale = "stale"
)

// NotifyEvents is every accepted on value, sorted.
var NotifyEvents = []string{NotifyOnDrift, NotifyOnFailure, NotifyOnStale, NotifyOnSuccess, NotifyOnVerifyFailed}

var instanceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "data_dir"},
		{Name: "docker_volume"},
		{Name: "container"},
		{Name: "compose_project"},
	},
}

// dockerNamePattern is Docker's rule for volume and container names.
var dockerNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (d *decoder) instance(b *hcl.Block) (*Instance, hcl.Diagnostics) {
	inst := &Instance{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(instanceSchema)

	// An attribute that failed to evaluate would otherwise read as absent
	// and cascade into a misleading "Missing data source".
	var evalDiags hcl.Diagnostics
	dataDir, hasDir, moreDiags := d.string(content.Attributes, "data_dir")
	evalDiags = append(evalDiags, moreDiags...)
	volume, hasVolume, moreDiags := d.string(content.Attributes, "docker_volume")
	evalDiags = append(evalDiags, moreDiags...)
	container, hasContainer, moreDiags := d.string(content.Attributes, "container")
	evalDiags = append(evalDiags, moreDiags...)
	project, hasProject, moreDiags := d.string(content.Attributes, "compose_project")
	evalDiags = append(evalDiags, moreDiags...)
	diags = append(diags, evalDiags...)
	if evalDiags.HasErrors() {
		return inst, diags
	}

	// The data is found through data_dir, docker_volume, or the mount at
	// /app/backend/data of the container (or of the Compose project's
	// Open WebUI container), resolved when the backup runs.
	switch {
	case hasDir && hasVolume:
		diags = append(diags, errorf(volume.Range, "Conflicting data source",
			"The instance %q sets both data_dir and docker_volume; set exactly one of them.", inst.Name))
	case !hasDir && !hasVolume && !hasContainer && !hasProject:
		diags = append(diags, errorf(b.DefRange, "Missing data source",
			"The instance %q sets none of data_dir, docker_volume, container or compose_project; set data_dir or docker_volume, or name the container whose /app/backend/data holds the data.", inst.Name))
	case hasDir:
		if dataDir.Value == "" {
			diags = append(diags, errorf(dataDir.Range, "Invalid data directory",
				"The data_dir of instance %q is empty; set it to the Open WebUI data directory.", inst.Name))
			break
		}
		inst.DataDir = d.absPath(dataDir.Value)
	case hasVolume:
		if !dockerNamePattern.MatchString(volume.Value) {
			diags = append(diags, errorf(volume.Range, "Invalid Docker volume name",
				"The docker_volume %s of instance %q is not a valid Docker volume name.", volume.quoted(), inst.Name))
			break
		}
		inst.DockerVolume = volume.Value
	}
	if hasContainer {
		// Container IDs match the same pattern as names.
		name := strings.TrimPrefix(container.Value, "/")
		if !dockerNamePattern.MatchString(name) {
			diags = append(diags, errorf(container.Range, "Invalid container name",
				"The container %s of instance %q is not a valid Docker container name or ID.", container.quoted(), inst.Name))
		} else {
			inst.Container = name
		}
	}
	if hasProject {
		if !dockerNamePattern.MatchString(project.Value) {
			diags = append(diags, errorf(project.Range, "Invalid Compose project name",
				"The compose_project %s of instance %q is not a valid Docker Compose project name.", project.quoted(), inst.Name))
		} else {
			inst.ComposeProject = project.Value
		}
	}
	return inst, diags
}

var targetSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "remote", Required: true}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "crypt"}},
}

var cryptSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "password", Required: true},
		{Name: "salt"},
	},
}

func (d *decoder) target(b *hcl.Block) (*Target, hcl.Diagnostics) {
	t := &Target{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(targetSchema)

	remote, ok, moreDiags := d.string(content.Attributes, "remote")
	diags = append(diags, moreDiags...)
	if ok {
		switch {
		case strings.TrimSpace(remote.Value) == "":
			diags = append(diags, errorf(remote.Range, "Empty remote",
				"The remote of target %q is empty; set it to an rclone remote such as \"b2:bucket/path\", a connection string or a local path.", t.Name))
		case IsLocalRemote(remote.Value):
			t.Remote = d.absPath(remote.Value)
		default:
			t.Remote = remote.Value
		}
	}

	for i, cb := range content.Blocks {
		if i > 0 {
			diags = append(diags, errorf(cb.DefRange, "Duplicate crypt block",
				"The target %q already has a crypt block at %s; a target takes at most one.", t.Name, content.Blocks[0].DefRange))
			continue
		}
		c, moreDiags := d.crypt(cb, t.Name)
		diags = append(diags, moreDiags...)
		t.Crypt = c
	}
	return t, diags
}

// crypt decodes a crypt block. Its values are secrets: no diagnostic here
// quotes them.
func (d *decoder) crypt(b *hcl.Block, target string) (*Crypt, hcl.Diagnostics) {
	c := &Crypt{}
	content, diags := b.Body.Content(cryptSchema)
	password, ok, moreDiags := d.string(content.Attributes, "password")
	diags = append(diags, moreDiags...)
	if ok {
		if password.Value == "" {
			diags = append(diags, errorf(password.Range, "Empty crypt password",
				"The crypt password of target %q is empty; an empty password would not protect the data.", target))
		}
		c.Password = password.Value
	}
	salt, ok, moreDiags := d.string(content.Attributes, "salt")
	diags = append(diags, moreDiags...)
	if ok {
		c.Salt = salt.Value
	}
	return c, diags
}

// IsLocalRemote reports whether remote names a local path rather than an
// rclone remote ("name:path") or connection string (":backend,opt=v:path").
// A colon after the first slash belongs to the path.
func IsLocalRemote(remote string) bool {
	colon := strings.IndexByte(remote, ':')
	if colon < 0 {
		return true
	}
	slash := strings.IndexByte(remote, '/')
	return slash >= 0 && slash < colon
}

// IsLocal reports whether the target is a local directory.
func (t *Target) IsLocal() bool { return IsLocalRemote(t.Remote) }

var notifySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "url"},
		{Name: "healthcheck_url"},
		{Name: "on"},
	},
}

// schemePattern is RFC 3986's scheme syntax.
var schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

func (d *decoder) notify(b *hcl.Block) (*Notify, hcl.Diagnostics) {
	n := &Notify{Name: b.Labels[0], DeclRange: b.DefRange, On: []string{NotifyOnFailure}}
	content, diags := b.Body.Content(notifySchema)

	// Notification URLs carry tokens, so they are never quoted.
	raw, hasURL, moreDiags := d.string(content.Attributes, "url")
	diags = append(diags, moreDiags...)
	if hasURL {
		u, err := url.Parse(raw.Value)
		if err != nil || !schemePattern.MatchString(u.Scheme) || u.Host == "" {
			diags = append(diags, errorf(raw.Range, "Invalid notify URL",
				"The url of notify %q is not a URL with a scheme and host, such as \"ntfy://ntfy.sh/topic\" or \"https://example.com/hook\".", n.Name))
		} else {
			n.URL = raw.Value
		}
	}
	hc, hasHC, moreDiags := d.string(content.Attributes, "healthcheck_url")
	diags = append(diags, moreDiags...)
	if hasHC {
		u, err := url.Parse(hc.Value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			diags = append(diags, errorf(hc.Range, "Invalid healthcheck URL",
				"The healthcheck_url of notify %q is not an http(s) URL such as \"https://hc-ping.com/UUID\".", n.Name))
		} else {
			n.HealthcheckURL = strings.TrimRight(hc.Value, "/")
		}
	}
	_, urlPresent := content.Attributes["url"]
	_, hcPresent := content.Attributes["healthcheck_url"]
	if !urlPresent && !hcPresent {
		diags = append(diags, errorf(b.DefRange, "Missing notify URL",
			"The notify %q sets neither url nor healthcheck_url; set at least one of them.", n.Name))
	}

	on, ok, moreDiags := d.strings(content.Attributes, "on")
	diags = append(diags, moreDiags...)
	if ok {
		if len(on) == 0 {
			diags = append(diags, errorf(content.Attributes["on"].Expr.Range(), "Empty notify events",
				"The on list of notify %q is empty; list at least one of %s, or remove the notify block.", n.Name, orList(NotifyEvents)))
		}
		n.On = nil
		for _, ev := range on {
			if !slices.Contains(NotifyEvents, ev.Value) {
				diags = append(diags, errorf(ev.Range, "Unknown notify event",
					"The event %s is not one owui sends; use %s.", ev.quoted(), orList(NotifyEvents)))
				continue
			}
			if !slices.Contains(n.On, ev.Value) {
				n.On = append(n.On, ev.Value)
			}
		}
		slices.Sort(n.On)
	}
	return n, diags
}
