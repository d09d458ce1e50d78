package notify

import (
	"net/url"
	"slices"
	"strings"
)

// minSecret is the shortest string Scrub hides: shorter pieces of a URL
// ("api", "v1") are not secrets and hiding them would garble messages.
const minSecret = 6

// Secrets returns the strings to hide from any text derived from rawURLs:
// each URL whole, and the parts of it that may carry a token on their own
// (the user-info password, path segments, query values, fragment).
func Secrets(rawURLs ...string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecret && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, raw := range rawURLs {
		if raw == "" {
			continue
		}
		add(raw)
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		add(u.String())
		if u.User != nil {
			add(u.User.Username())
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
		for _, seg := range strings.Split(u.Path, "/") {
			add(seg)
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
		add(u.Fragment)
	}
	// Longest first, so that a URL is hidden whole before its parts.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// Scrub replaces every secret in text with "(sensitive)".
func Scrub(text string, secrets []string) string {
	for _, s := range secrets {
		text = strings.ReplaceAll(text, s, "(sensitive)")
	}
	return text
}

// Describe names a notification URL for logs without its secrets: the
// scheme and host only ("ntfy://ntfy.sh", "https://hooks.example.com").
func Describe(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "<notify url>"
	}
	return u.Scheme + "://" + u.Hostname()
}
