package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// DefaultExclude is the exclude list of a backup that sets none: cache/
// holds re-creatable models and is large.
var DefaultExclude = []string{"cache/**"}

var backupSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "instance", Required: true},
		{Name: "to", Required: true},
		{Name: "every"},
		{Name: "schedule"},
		{Name: "include"},
		{Name: "exclude"},
		{Name: "consistency"},
		{Name: "compression"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "keep"}, {Type: "trigger"}, {Type: "verify"}},
}

// backup decodes a backup block; p holds the instances and targets already
// decoded, for resolving references.
func (d *decoder) backup(b *hcl.Block, p *Policy) (*Backup, hcl.Diagnostics) {
	bk := &Backup{Name: b.Labels[0], DeclRange: b.DefRange, Consistency: ConsistencyOnline, Compression: CompressionNone}
	content, diags := b.Body.Content(backupSchema)
	attrs := content.Attributes

	var inst *Instance
	if attr, ok := attrs["instance"]; ok {
		name, moreDiags := reference(attr.Expr, "instance", "instance")
		diags = append(diags, moreDiags...)
		if name != "" {
			if inst = p.Instance(name); inst == nil {
				diags = append(diags, errorf(attr.Expr.Range(), "Reference to undeclared instance",
					"The backup %q refers to instance.%s, but no instance %q is declared.", bk.Name, name, name))
			}
			bk.Instance = name
		}
	}
	if attr, ok := attrs["to"]; ok {
		diags = append(diags, d.backupTargets(bk, attr, p, inst)...)
	}
	diags = append(diags, d.backupTiming(bk, b, attrs)...)
	diags = append(diags, d.backupPaths(bk, attrs)...)
	diags = append(diags, d.backupConsistency(bk, attrs, inst)...)
	diags = append(diags, d.backupCompression(bk, attrs)...)

	var keeps, triggers, verifies []*hcl.Block
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "keep":
			keeps = append(keeps, blk)
		case "trigger":
			triggers = append(triggers, blk)
		case "verify":
			verifies = append(verifies, blk)
		}
	}
	if kb, more := single(keeps, bk.Name); kb != nil {
		keep, moreDiags := d.keep(kb, bk.Name)
		diags = append(append(diags, moreDiags...), more...)
		bk.Keep = keep
	}
	if tb, more := single(triggers, bk.Name); tb != nil {
		trig, moreDiags := d.trigger(tb, bk.Name)
		diags = append(append(diags, moreDiags...), more...)
		bk.Trigger = trig
	}
	if vb, more := single(verifies, bk.Name); vb != nil {
		v, moreDiags := d.verify(vb, bk.Name)
		diags = append(append(diags, moreDiags...), more...)
		bk.Verify = v
	}
	return bk, diags
}

// reference reads expr as a reference kind.NAME and returns NAME, or "" with
// a diagnostic. attr names the attribute for the message.
func reference(expr hcl.Expression, attr, kind string) (string, hcl.Diagnostics) {
	bad := func() (string, hcl.Diagnostics) {
		return "", hcl.Diagnostics{errorf(expr.Range(), "Invalid reference",
			"The %s argument takes a reference to %s %s block, such as %s.main, not a string or other expression.", attr, strings.ToLower(article(kind)), kind, kind)}
	}
	trav, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(trav) != 2 {
		return bad()
	}
	step, ok := trav[1].(hcl.TraverseAttr)
	if !ok {
		return bad()
	}
	if root := trav.RootName(); root != kind {
		return "", hcl.Diagnostics{errorf(expr.Range(), "Invalid reference",
			"The %s argument takes a reference to %s %s block, such as %s.main; %s.%s is not one.", attr, strings.ToLower(article(kind)), kind, kind, root, step.Name)}
	}
	return step.Name, nil
}

// backupTargets decodes the to list and checks each target against the
// backup's instance.
func (d *decoder) backupTargets(bk *Backup, attr *hcl.Attribute, p *Policy, inst *Instance) hcl.Diagnostics {
	exprs, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		return hcl.Diagnostics{errorf(attr.Expr.Range(), "Invalid reference",
			"The to argument takes a list of target references, such as [target.b2, target.nas].")}
	}
	if len(exprs) == 0 {
		return hcl.Diagnostics{errorf(attr.Expr.Range(), "Empty target list",
			"The backup %q has no targets; list at least one, such as to = [target.b2].", bk.Name)}
	}
	seen := map[string]hcl.Range{}
	for _, e := range exprs {
		name, moreDiags := reference(e, "to", "target")
		diags = append(diags, moreDiags...)
		if name == "" {
			continue
		}
		if prev, dup := seen[name]; dup {
			diags = append(diags, errorf(e.Range(), "Duplicate target reference",
				"The backup %q lists target.%s twice (first at %s); each target takes the backup once.", bk.Name, name, prev))
			continue
		}
		seen[name] = e.Range()
		t := p.Target(name)
		if t == nil {
			diags = append(diags, errorf(e.Range(), "Reference to undeclared target",
				"The backup %q refers to target.%s, but no target %q is declared.", bk.Name, name, name))
			continue
		}
		bk.To = append(bk.To, name)
		d.refs[[2]string{bk.Name, name}] = e.Range()
		if inst == nil || inst.DataDir == "" || t.Remote == "" || !t.IsLocal() {
			continue
		}
		switch {
		case pathWithin(inst.DataDir, t.Remote):
			diags = append(diags, errorf(e.Range(), "Target inside data directory",
				"The target %q is a local directory inside the data directory of instance %q (or is that directory), so each snapshot would copy the previous ones; choose a directory outside it.", name, inst.Name))
		case t.Crypt == nil && pathWithin(inst.DataDir, filepath.Join(t.Remote, bk.Name)):
			// Snapshots go to <remote>/<backup name>/ (under crypt that
			// name is encrypted and cannot match).
			diags = append(diags, errorf(e.Range(), "Target inside data directory",
				"The backup %q keeps its snapshots in the directory %q of target %q, which is inside the data directory of instance %q (or is that directory), so each snapshot would copy the previous ones; choose another target directory or backup name.", bk.Name, bk.Name, name, inst.Name))
		}
	}
	return diags
}

// pathWithin reports whether p equals dir or lies below it; both are clean.
func pathWithin(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, "../"))
}

// scheduleProbe is the fixed instant a schedule must fire after to be
// accepted (cron gives up after five years, so "0 0 30 2 *" never fires).
var scheduleProbe = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// backupTiming decodes every and schedule; exactly one is required.
func (d *decoder) backupTiming(bk *Backup, b *hcl.Block, attrs hcl.Attributes) hcl.Diagnostics {
	every, hasEvery, diags := d.string(attrs, "every")
	schedule, hasSchedule, moreDiags := d.string(attrs, "schedule")
	diags = append(diags, moreDiags...)
	if diags.HasErrors() {
		return diags
	}
	switch {
	case hasEvery && hasSchedule:
		return append(diags, errorf(schedule.Range, "Conflicting schedule",
			"The backup %q sets both every and schedule; set exactly one of them.", bk.Name))
	case !hasEvery && !hasSchedule:
		return append(diags, errorf(b.DefRange, "Missing schedule",
			"The backup %q sets neither every nor schedule; set one, such as every = \"24h\" or schedule = \"daily\".", bk.Name))
	case hasEvery:
		dur, err := ParseInterval(every.Value)
		switch {
		case err != nil && every.Sensitive:
			return append(diags, errorf(every.Range, "Invalid interval",
				"The every value of backup %q (from env(), not shown) is not an interval such as \"6h\", \"7d\" or \"2w\".", bk.Name))
		case err != nil:
			return append(diags, errorf(every.Range, "Invalid interval",
				"The every value of backup %q is not an interval such as \"6h\", \"7d\" or \"2w\": %s.", bk.Name, err))
		case dur < time.Second:
			return append(diags, errorf(every.Range, "Invalid interval",
				"The every value of backup %q is %s; the interval must be at least one second.", bk.Name, every.quoted()))
		}
		bk.Every = dur
	case hasSchedule:
		sched, err := ParseSchedule(schedule.Value, d.loc)
		if err == nil && sched.Next(scheduleProbe).IsZero() {
			err = fmt.Errorf("it never fires")
		}
		if err != nil {
			reason := ": " + err.Error()
			if schedule.Sensitive {
				reason = ""
			}
			return append(diags, errorf(schedule.Range, "Invalid schedule",
				"The schedule %s of backup %q is not hourly, daily, weekly, monthly or a valid 5-field cron expression%s.", schedule.quoted(), bk.Name, reason))
		}
		bk.Schedule = schedule.Value
		bk.Cron = sched
	}
	return diags
}

// backupPaths decodes include and exclude.
func (d *decoder) backupPaths(bk *Backup, attrs hcl.Attributes) hcl.Diagnostics {
	include, _, diags := d.strings(attrs, "include")
	exclude, hasExclude, moreDiags := d.strings(attrs, "exclude")
	diags = append(diags, moreDiags...)
	for _, g := range include {
		diags = append(diags, checkGlob(g, "include", bk.Name)...)
		bk.Include = append(bk.Include, g.Value)
	}
	if !hasExclude {
		bk.Exclude = slices.Clone(DefaultExclude)
	}
	for _, g := range exclude {
		diags = append(diags, checkGlob(g, "exclude", bk.Name)...)
		bk.Exclude = append(bk.Exclude, g.Value)
	}
	return diags
}

// checkGlob accepts doublestar patterns relative to the data directory.
func checkGlob(g str, attr, backup string) hcl.Diagnostics {
	var problem string
	switch {
	case g.Value == "":
		problem = "it is empty"
	case strings.HasPrefix(g.Value, "/"):
		problem = "it is absolute; patterns are relative to the data directory"
	case slices.Contains(strings.Split(g.Value, "/"), ".."):
		problem = "it contains \"..\"; patterns cannot leave the data directory"
	case !doublestar.ValidatePattern(g.Value):
		problem = "it is not a valid glob pattern"
	default:
		return nil
	}
	return hcl.Diagnostics{errorf(g.Range, "Invalid glob pattern",
		"The %s pattern %s of backup %q is not usable: %s.", attr, g.quoted(), backup, problem)}
}

// backupConsistency decodes consistency and checks that pause and stop have
// a container to act on.
func (d *decoder) backupConsistency(bk *Backup, attrs hcl.Attributes, inst *Instance) hcl.Diagnostics {
	mode, ok, diags := d.string(attrs, "consistency")
	if !ok {
		return diags
	}
	switch mode.Value {
	case ConsistencyOnline:
	case ConsistencyPause, ConsistencyStop:
		if inst != nil && inst.Container == "" && inst.ComposeProject == "" {
			diags = append(diags, errorf(mode.Range, "Missing container",
				"The backup %q uses consistency %q, which needs the container of instance %q; set container (or compose_project) in that instance block.", bk.Name, mode.Value, inst.Name))
		}
	default:
		return append(diags, errorf(mode.Range, "Unknown consistency mode",
			"The consistency %s of backup %q is not one of \"online\", \"pause\" or \"stop\".", mode.quoted(), bk.Name))
	}
	bk.Consistency = mode.Value
	return diags
}

// backupCompression decodes compression: "none" (the default) or "zstd".
func (d *decoder) backupCompression(bk *Backup, attrs hcl.Attributes) hcl.Diagnostics {
	c, ok, diags := d.string(attrs, "compression")
	if !ok {
		return diags
	}
	switch c.Value {
	case CompressionNone, CompressionZstd:
	default:
		return append(diags, errorf(c.Range, "Unknown compression",
			"The compression %s of backup %q is not one of \"none\" or \"zstd\".", c.quoted(), bk.Name))
	}
	bk.Compression = c.Value
	return diags
}

var keepSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "last"}, {Name: "hourly"}, {Name: "daily"}, {Name: "weekly"},
		{Name: "monthly"}, {Name: "yearly"}, {Name: "within"},
	},
}

// keep decodes a keep block. Counts are restic's: -1 keeps unlimited, 0
// leaves the rule unused.
func (d *decoder) keep(b *hcl.Block, backup string) (*Keep, hcl.Diagnostics) {
	k := &Keep{}
	content, diags := b.Body.Content(keepSchema)
	for _, c := range []struct {
		name string
		dst  *int
	}{
		{"last", &k.Last}, {"hourly", &k.Hourly}, {"daily", &k.Daily}, {"weekly", &k.Weekly},
		{"monthly", &k.Monthly}, {"yearly", &k.Yearly},
	} {
		n, rng, ok, moreDiags := d.number(content.Attributes, c.name)
		diags = append(diags, moreDiags...)
		if !ok {
			continue
		}
		if n < -1 {
			diags = append(diags, errorf(rng, "Invalid keep count",
				"The keep %s count of backup %q is %d; counts are 0 or more, or -1 for unlimited.", c.name, backup, n))
			continue
		}
		*c.dst = n
	}
	within, ok, moreDiags := d.string(content.Attributes, "within")
	diags = append(diags, moreDiags...)
	if ok {
		w, err := ParseWithin(within.Value)
		if err != nil {
			diags = append(diags, errorf(within.Range, "Invalid within duration",
				"The keep within %s of backup %q is not in restic's form, such as \"1y6m2d12h\" (m = months, units in the order y, m, d, h).", within.quoted(), backup))
		}
		k.Within = w
	}
	if !diags.HasErrors() && k.IsZero() {
		diags = append(diags, errorf(b.DefRange, "Empty keep block",
			"The keep block of backup %q sets no rule, which would leave nothing to keep; set a count such as last = 7, or remove the block to keep every snapshot.", backup))
	}
	return k, diags
}

var triggerSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "on_change"}, {Name: "debounce"}, {Name: "min_interval"},
	},
}

// trigger decodes a trigger block: on_change (required), debounce and
// min_interval (intervals of at least a second: snapshot ids have one-second
// resolution).
func (d *decoder) trigger(b *hcl.Block, backup string) (*Trigger, hcl.Diagnostics) {
	t := &Trigger{Debounce: DefaultDebounce, MinInterval: DefaultMinInterval, DeclRange: b.DefRange}
	content, diags := b.Body.Content(triggerSchema)
	if attr, ok := content.Attributes["on_change"]; ok {
		v, _, moreDiags := d.eval(attr.Expr, "on_change", cty.Bool)
		diags = append(diags, moreDiags...)
		if v != cty.NilVal {
			t.OnChange = v.True()
		}
	} else if !diags.HasErrors() {
		diags = append(diags, errorf(b.DefRange, "Missing trigger event",
			"The trigger block of backup %q sets no event; set on_change = true, or remove the block.", backup))
	}
	for _, c := range []struct {
		name string
		dst  *time.Duration
	}{{"debounce", &t.Debounce}, {"min_interval", &t.MinInterval}} {
		v, ok, moreDiags := d.string(content.Attributes, c.name)
		diags = append(diags, moreDiags...)
		if !ok {
			continue
		}
		dur, err := ParseInterval(v.Value)
		switch {
		case err != nil:
			diags = append(diags, errorf(v.Range, "Invalid trigger interval",
				"The trigger %s %s of backup %q is not an interval such as \"30s\", \"5m\" or \"1h\".", c.name, v.quoted(), backup))
		case dur < time.Second:
			diags = append(diags, errorf(v.Range, "Invalid trigger interval",
				"The trigger %s %s of backup %q is under one second; snapshot ids have one-second resolution.", c.name, v.quoted(), backup))
		default:
			*c.dst = dur
		}
	}
	return t, diags
}

var verifySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "every", Required: true}, {Name: "read_data"}},
}

// verify decodes a verify block: every (an interval, required) and
// read_data (default false).
func (d *decoder) verify(b *hcl.Block, backup string) (*Verify, hcl.Diagnostics) {
	v := &Verify{DeclRange: b.DefRange}
	content, diags := b.Body.Content(verifySchema)
	every, ok, moreDiags := d.string(content.Attributes, "every")
	diags = append(diags, moreDiags...)
	if ok {
		dur, err := ParseInterval(every.Value)
		switch {
		case err != nil:
			diags = append(diags, errorf(every.Range, "Invalid verify interval",
				"The verify every %s of backup %q is not an interval such as \"24h\", \"7d\" or \"2w\".", every.quoted(), backup))
		case dur < time.Minute:
			diags = append(diags, errorf(every.Range, "Invalid verify interval",
				"The verify every %s of backup %q is under a minute; a verification reads the whole snapshot.", every.quoted(), backup))
		default:
			v.Every = dur
		}
	}
	if attr, ok := content.Attributes["read_data"]; ok {
		val, _, moreDiags := d.eval(attr.Expr, "read_data", cty.Bool)
		diags = append(diags, moreDiags...)
		if val != cty.NilVal {
			v.ReadData = val.True()
		}
	}
	return v, diags
}

// single returns the first of a backup's nested blocks of one type, and a
// "Duplicate … block" diagnostic for each further one: a backup takes at
// most one keep, trigger or verify block.
func single(blocks []*hcl.Block, backup string) (*hcl.Block, hcl.Diagnostics) {
	if len(blocks) == 0 {
		return nil, nil
	}
	var diags hcl.Diagnostics
	first := blocks[0]
	for _, b := range blocks[1:] {
		diags = append(diags, errorf(b.DefRange, "Duplicate "+first.Type+" block",
			"The backup %q already has a %s block at %s; a backup takes at most one.", backup, first.Type, first.DefRange))
	}
	return first, diags
}
