package target

import (
	"sort"
	"strings"

	"github.com/rclone/rclone/fs/fspath"
)

// Redact returns remote with the values of secret connection-string
// parameters replaced by "(sensitive)", for logs and errors. Named remotes and local
// paths carry no secrets and come back unchanged; a remote that does not
// parse is hidden entirely, since where its secrets are cannot be known.
func Redact(remote string) string {
	p, err := fspath.Parse(remote)
	if err != nil {
		return "<unparsable remote>"
	}
	if p.Name == "" || len(p.Config) == 0 {
		return remote
	}
	keys := make([]string, 0, len(p.Config))
	for k := range p.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(p.Name)
	for _, k := range keys {
		v := p.Config[k]
		if isSecretParam(k) {
			v = "(sensitive)"
		} else if strings.HasPrefix(v, ":") {
			// A wrapper's remote (alias, crypt, union…) is a connection
			// string of its own, with its own secrets.
			v = Redact(v)
		}
		b.WriteString(",")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(quoteParam(v))
	}
	b.WriteString(":")
	b.WriteString(p.Path)
	return b.String()
}

// isSecretParam reports whether a backend parameter holds a secret. It errs
// on the side of hiding: key_file or sse_customer_key_md5 are redacted too.
func isSecretParam(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "key", "pass", "password", "password2", "token", "sas_url", "service_account_credentials",
		"credentials", "auth", "bearer_token", "client_credentials":
		return true
	}
	if strings.HasPrefix(n, "key_") {
		return true
	}
	for _, s := range []string{"secret", "pass", "token", "_key", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// quoteParam quotes a connection-string value the way fspath.Parse reads it.
func quoteParam(v string) string {
	if !strings.ContainsAny(v, ",:'\"") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}
