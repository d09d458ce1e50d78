package config

import (
	"cmp"
	"path"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// remoteKey is a target's remote as compared for collisions: the path part
// cleaned ("b2:bucket/x/" and "b2:bucket/./x" are both "b2:bucket/x"), the
// remote name or connection string left as written. Two spellings of one
// place (an alias, another connection string) are not detected: that would
// need rclone's configuration, and Decode does no I/O.
func remoteKey(remote string) string {
	if IsLocalRemote(remote) {
		return path.Clean(remote)
	}
	// A remote name holds no colon; a connection string's options may
	// (endpoint='http://host:9000'), so its path starts after the last one.
	i := strings.IndexByte(remote, ':')
	if strings.HasPrefix(remote, ":") {
		i = strings.LastIndexByte(remote, ':')
	}
	spec, p := remote[:i+1], path.Clean(remote[i+1:])
	if p == "." {
		p = ""
	}
	return spec + p
}

// joinRemote is the key of name inside the remote whose key is root.
func joinRemote(root, name string) string {
	if strings.HasSuffix(root, ":") || strings.HasSuffix(root, "/") {
		return root + name
	}
	return root + "/" + name
}

// remoteWithin reports whether key equals dir or lies below it.
func remoteWithin(dir, key string) bool {
	return key == dir || strings.HasPrefix(key, dir+"/")
}

// targetUse is one backup writing to one target.
type targetUse struct {
	backup *Backup
	target *Target
	root   string    // remoteKey of the target's remote
	ref    hcl.Range // the target's reference in the backup's to list
}

// checkPrefixes refuses backups that would share a place on a remote. A
// backup keeps its snapshots under <remote>/<backup name>/, so with two
// targets on one remote a backup writes every snapshot twice into the same
// directory, and a target whose remote lies inside another backup's
// <remote>/<backup name>/ mixes its snapshots and lock with that backup's.
// Under crypt the backup's directory name is encrypted, so only the remote
// itself is compared.
func (d *decoder) checkPrefixes(p *Policy) hcl.Diagnostics {
	var uses []targetUse
	for _, b := range p.Backups {
		for _, name := range b.To {
			if t := p.Target(name); t != nil && t.Remote != "" {
				uses = append(uses, targetUse{backup: b, target: t, root: remoteKey(t.Remote), ref: d.refs[[2]string{b.Name, name}]})
			}
		}
	}
	// One diagnostic per use, at its reference: the first problem found.
	found := make([]*hcl.Diagnostic, len(uses))
	for i, u := range uses {
		for j, v := range uses[:i] {
			if u.target == v.target {
				continue
			}
			switch {
			case u.backup == v.backup && u.root == v.root && found[i] == nil:
				found[i] = errorf(u.ref, "Duplicate target remote",
					"The targets %q and %q of backup %q have the same remote, so the backup would write each snapshot twice into one place; point one of them elsewhere.", v.target.Name, u.target.Name, u.backup.Name)
			case nestedIn(u, v) && found[i] == nil:
				found[i] = nestedDiag(u, v)
			case nestedIn(v, u) && found[j] == nil:
				found[j] = nestedDiag(v, u)
			}
		}
	}
	var diags hcl.Diagnostics
	for _, d := range found {
		if d != nil {
			diags = append(diags, d)
		}
	}
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int { return cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte) })
	return diags
}

// nestedIn reports whether inner's remote lies in the directory where
// outer's backup keeps its snapshots.
func nestedIn(inner, outer targetUse) bool {
	return outer.target.Crypt == nil && remoteWithin(joinRemote(outer.root, outer.backup.Name), inner.root)
}

func nestedDiag(inner, outer targetUse) *hcl.Diagnostic {
	return errorf(inner.ref, "Nested target remote",
		"The remote of target %q is inside the directory where backup %q keeps its snapshots on target %q (its remote followed by /%s), so the snapshots and locks of backup %q would mix with that backup's; choose a remote outside it.",
		inner.target.Name, outer.backup.Name, outer.target.Name, outer.backup.Name, inner.backup.Name)
}
