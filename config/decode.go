package config

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time_zone must work on hosts without a zoneinfo database

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// DecodeOptions carries what Decode needs from the world, so that Decode
// itself stays pure.
type DecodeOptions struct {
	// LookupEnv backs the env() function. Nil means no variable is set.
	LookupEnv func(string) (string, bool)
	// BaseDir resolves relative data_dir and local target paths, usually the
	// directory holding the policy file. Empty leaves them relative.
	BaseDir string
	// DefaultLocation is the time zone when the policy sets no time_zone;
	// nil means time.Local.
	DefaultLocation *time.Location
}

// decoder holds what every block decoder needs.
type decoder struct {
	opts DecodeOptions
	ctx  *hcl.EvalContext
	loc  *time.Location
	// refs holds where each backup's to list names each target, keyed by
	// backup and target name, for checks across backups.
	refs map[[2]string]hcl.Range
}

var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "time_zone"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "instance", LabelNames: []string{"name"}},
		{Type: "target", LabelNames: []string{"name"}},
		{Type: "backup", LabelNames: []string{"name"}},
		{Type: "notify", LabelNames: []string{"name"}},
	},
}

// Decode parses and validates a policy held in src; filename is used in
// diagnostics only. It does no I/O. When the diagnostics hold an error the
// returned Policy is nil.
func Decode(filename string, src []byte, opts DecodeOptions) (*Policy, hcl.Diagnostics) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	content, moreDiags := file.Body.Content(rootSchema)
	diags = append(diags, moreDiags...)

	d := &decoder{opts: opts, ctx: evalContext(opts.LookupEnv), refs: map[[2]string]hcl.Range{}}
	loc, moreDiags := d.location(content.Attributes)
	diags = append(diags, moreDiags...)
	d.loc = loc

	p := &Policy{Filename: filename, Location: loc}
	blocks := map[string][]*hcl.Block{}
	for _, b := range content.Blocks {
		blocks[b.Type] = append(blocks[b.Type], b)
	}
	for _, b := range uniqueBlocks(blocks["instance"], &diags) {
		inst, moreDiags := d.instance(b)
		diags = append(diags, moreDiags...)
		p.Instances = append(p.Instances, inst)
	}
	for _, b := range uniqueBlocks(blocks["target"], &diags) {
		t, moreDiags := d.target(b)
		diags = append(diags, moreDiags...)
		p.Targets = append(p.Targets, t)
	}
	for _, b := range uniqueBlocks(blocks["notify"], &diags) {
		n, moreDiags := d.notify(b)
		diags = append(diags, moreDiags...)
		p.Notifies = append(p.Notifies, n)
	}
	for _, b := range uniqueBlocks(blocks["backup"], &diags) {
		bk, moreDiags := d.backup(b, p)
		diags = append(diags, moreDiags...)
		p.Backups = append(p.Backups, bk)
	}
	diags = append(diags, d.checkPrefixes(p)...)

	if diags.HasErrors() {
		return nil, diags
	}
	byName := func(a, b string) int { return cmp.Compare(a, b) }
	slices.SortFunc(p.Instances, func(a, b *Instance) int { return byName(a.Name, b.Name) })
	slices.SortFunc(p.Targets, func(a, b *Target) int { return byName(a.Name, b.Name) })
	slices.SortFunc(p.Backups, func(a, b *Backup) int { return byName(a.Name, b.Name) })
	slices.SortFunc(p.Notifies, func(a, b *Notify) int { return byName(a.Name, b.Name) })
	return p, diags
}

// LoadFile reads and decodes the policy at path, with env() reading the
// process environment and relative paths resolved against the policy's
// directory.
func LoadFile(path string) (*Policy, hcl.Diagnostics) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read policy file",
			Detail:   fmt.Sprintf("The policy file %q cannot be located: %s.", path, err),
		}}
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read policy file",
			Detail:   fmt.Sprintf("The policy file %q cannot be read: %s.", path, err),
		}}
	}
	return Decode(path, src, DecodeOptions{
		LookupEnv: os.LookupEnv,
		BaseDir:   filepath.Dir(abs),
	})
}

// location decodes time_zone.
func (d *decoder) location(attrs hcl.Attributes) (*time.Location, hcl.Diagnostics) {
	def := d.opts.DefaultLocation
	if def == nil {
		def = time.Local
	}
	tz, ok, diags := d.string(attrs, "time_zone")
	if !ok {
		return def, diags
	}
	if tz.Value == "" {
		return def, append(diags, errorf(tz.Range, "Invalid time zone",
			"The time_zone must name an IANA time zone such as \"Europe/Berlin\" or \"UTC\"; it is empty."))
	}
	loc, err := time.LoadLocation(tz.Value)
	if err != nil {
		return def, append(diags, errorf(tz.Range, "Invalid time zone",
			"The time_zone %s is not a known IANA time zone; use a name such as \"Europe/Berlin\" or \"UTC\".", tz.quoted()))
	}
	return loc, diags
}

// namePattern is what block names must match: backup and target names
// become path components on the remote, and references need identifiers.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// uniqueBlocks reports invalid and duplicate block names and returns the
// blocks that are safe to decode: the first of each valid name.
func uniqueBlocks(blocks []*hcl.Block, diags *hcl.Diagnostics) []*hcl.Block {
	first := map[string]*hcl.Block{}
	var out []*hcl.Block
	for _, b := range blocks {
		name := b.Labels[0]
		if !namePattern.MatchString(name) {
			*diags = append(*diags, errorf(b.LabelRanges[0], "Invalid name",
				"The %s name %q is not valid: names start with a letter or digit and contain only letters, digits, underscores and dashes, because they become directory names and references.", b.Type, name))
			continue
		}
		if prev, dup := first[name]; dup {
			*diags = append(*diags, errorf(b.LabelRanges[0], fmt.Sprintf("Duplicate %s name", b.Type),
				"%s %s named %q is already declared at %s; each %s needs a unique name.", article(b.Type), b.Type, name, prev.DefRange, b.Type))
			continue
		}
		first[name] = b
		out = append(out, b)
	}
	return out
}

// article returns the indefinite article for word, capitalised.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}

// orList renders quoted alternatives: "a", "b" or "c".
func orList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// absPath makes a relative path absolute against BaseDir (string work only).
func (d *decoder) absPath(p string) string {
	if !filepath.IsAbs(p) && d.opts.BaseDir != "" {
		p = filepath.Join(d.opts.BaseDir, p)
	}
	return filepath.Clean(p)
}
