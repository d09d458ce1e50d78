package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	rfs "github.com/rclone/rclone/fs"

	"github.com/owui/owui/internal/s3test"
)

// TestSecretsStaySecret runs owui's commands on a policy full of secrets
// (env() values, crypt password and salt, rclone credentials in connection
// strings, tokens and a password in notify URLs, Open WebUI's secret key)
// and greps everything the runs leave: output, logs, state, saved plan,
// metrics, manifests, notifications. None may hold a secret. Files owui
// creates for itself must be private to the user.
func TestSecretsStaySecret(t *testing.T) {
	secrets := map[string]string{
		"crypt password":    "crypt-pw-7f3a9c1e",
		"crypt salt":        "crypt-salt-2b8d4e6f",
		"notify token":      "notify-token-5e1c7a3b",
		"notify password":   "notify-pass-9d2f4b8a",
		"healthcheck token": "hc-uuid-3c6e8a1f",
		"dead s3 secret":    "dead-s3-secret-4a7b",
		"broken s3 secret":  "broken-s3-secret-8c2e",
		"s3 secret":         s3test.SecretAccessKey,
		"webui secret key":  "webui-secret-key-1e5d9c3a",
	}
	// The dead target is refused at once; rclone's ten low-level retries of
	// each call would only slow the test down.
	ci := rfs.GetConfig(context.Background())
	retries := ci.LowLevelRetries
	ci.LowLevelRetries = 1
	t.Cleanup(func() { ci.LowLevelRetries = retries })
	var mu sync.Mutex
	var received bytes.Buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// The URLs carry their tokens by design: only what owui sends in
		// the bodies must not.
		mu.Lock()
		received.Write(body)
		mu.Unlock()
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("OWUI_CRYPT_PASSWORD", secrets["crypt password"])
	t.Setenv("OWUI_CRYPT_SALT", secrets["crypt salt"])
	t.Setenv("OWUI_NOTIFY_URL", "generic+http://owui:"+secrets["notify password"]+"@"+host+"/hook?token="+secrets["notify token"])
	t.Setenv("OWUI_HC_URL", srv.URL+"/ping/"+secrets["healthcheck token"])
	// A remote that rclone refuses to open: its error quotes the remote.
	t.Setenv("OWUI_BROKEN_S3", ":s3,provider=Other,secret_access_key="+secrets["broken s3 secret"]+",chunk_size=lots:bucket")
	t.Setenv("OWUI_DEAD_S3", ":s3,provider=Other,endpoint='http://127.0.0.1:1',access_key_id=x,secret_access_key="+secrets["dead s3 secret"]+":bucket")

	dir := t.TempDir()
	inst := genInstance(t, dir)
	if err := os.WriteFile(filepath.Join(inst, ".webui_secret_key"), []byte(secrets["webui secret key"]), 0o600); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "backups")
	body := `
instance "main" {
  data_dir = "` + inst + `"
}
target "local" {
  remote = "` + local + `"
}
target "s3" {
  remote = "` + s3test.Start(t) + `/owui"
  crypt {
    password = env("OWUI_CRYPT_PASSWORD")
    salt     = env("OWUI_CRYPT_SALT")
  }
}
target "dead" {
  remote = env("OWUI_DEAD_S3")
}
target "broken" {
  remote = env("OWUI_BROKEN_S3")
}
notify "ops" {
  url             = env("OWUI_NOTIFY_URL")
  healthcheck_url = env("OWUI_HC_URL")
  on              = ["failure", "success"]
}
backup "daily" {
  instance = instance.main
  every    = "24h"
`
	policy := writePolicy(t, dir, body+"  to = [target.local, target.s3]\n}\n")
	// The same policy with a target that cannot be reached, for the paths
	// where errors name targets.
	withDead := filepath.Join(dir, "dead.hcl")
	if err := os.WriteFile(withDead, []byte(body+"  to = [target.local, target.s3, target.dead, target.broken]\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	plan := filepath.Join(dir, "saved.plan")
	metrics := filepath.Join(dir, "owui.prom")
	var outputs strings.Builder
	run := func(policy string, args ...string) int {
		code, out, errs := cli(t, append([]string{"-f", policy, "--state", state}, args...)...)
		outputs.WriteString("$ owui " + strings.Join(args, " ") + "\n" + out + errs)
		return code
	}
	restored := filepath.Join(dir, "restored")
	for _, c := range []struct {
		dead bool // run with the unreachable target, which fails the command
		args []string
	}{
		{false, []string{"validate"}},
		{false, []string{"plan"}},
		{false, []string{"plan", "--json"}},
		{false, []string{"plan", "--out", plan}},
		{false, []string{"apply", "-v", "--metrics-file", metrics, plan}},
		{false, []string{"snapshots", "--json"}},
		{false, []string{"verify", "--read-data"}},
		{false, []string{"restore", "daily", "--target", "s3", "--to", restored}},
		{true, []string{"plan", "--now", "2030-01-01T00:00:00Z"}},
		{true, []string{"apply", "--auto-approve", "--log-format", "json", "--metrics-file", metrics, "--now", "2030-01-01T00:00:00Z"}},
		{true, []string{"status", "--json", "--refresh"}},
		{true, []string{"history"}},
		{true, []string{"refresh"}},
		{true, []string{"unlock"}},
	} {
		p := policy
		if c.dead {
			p = withDead
		}
		if code := run(p, c.args...); !c.dead && code != 0 {
			t.Fatalf("owui %s: exit %d\n%s", strings.Join(c.args, " "), code, outputs.String())
		}
	}
	if _, err := os.Stat(filepath.Join(restored, ".webui_secret_key")); err != nil {
		t.Fatalf("the secret key was not restored: %v", err)
	}
	if !strings.Contains(outputs.String(), "target dead is unreachable") || !strings.Contains(outputs.String(), "open target broken") {
		t.Fatalf("the dead target's failure is not reported:\n%s", outputs.String())
	}

	haystacks := map[string][]byte{"command output": []byte(outputs.String())}
	mu.Lock()
	haystacks["notifications and pings received"] = bytes.Clone(received.Bytes())
	mu.Unlock()
	if len(haystacks["notifications and pings received"]) == 0 {
		t.Fatal("no notification or ping arrived; the test would not see them leak")
	}
	for _, root := range []string{state, plan, metrics, local} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if filepath.Base(p) == ".webui_secret_key" && strings.HasPrefix(p, local) {
				return nil // the backed-up key itself: data, not a leak
			}
			b, err := os.ReadFile(p)
			haystacks[p] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for what, secret := range secrets {
		for where, b := range haystacks {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
	}

	for _, p := range []string{state, plan} {
		err := filepath.WalkDir(p, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			want := os.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if got := info.Mode().Perm(); got != want {
				t.Errorf("%s has mode %o, want %o", p, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
