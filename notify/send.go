package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"

	"github.com/owui/owui/config"
)

// Timeout bounds one delivery: a hung notification service must not hold
// the run (or the state lock) for long.
const Timeout = 15 * time.Second

// maxPingBody is what a healthcheck ping sends at most (healthchecks.io
// keeps the first 100 kB).
const maxPingBody = 100_000

// Sender delivers events and pings for a policy's notify blocks.
type Sender struct {
	// Notifies are the policy's notify blocks.
	Notifies []*config.Notify
	// Secrets are hidden from everything sent and every error returned:
	// Secrets of the notify URLs plus the policy's other secrets.
	Secrets []string
	// Client sends the JSON POSTs and pings (default: a client with Timeout).
	Client *http.Client
	// UserAgent is sent with every HTTP request.
	UserAgent string
}

// NewSender returns a Sender for p's notify blocks that hides their URLs
// and extra (other secrets, such as crypt passwords) from what it sends.
func NewSender(p *config.Policy, extra ...string) *Sender {
	s := &Sender{Notifies: p.Notifies}
	var urls []string
	for _, n := range p.Notifies {
		urls = append(urls, n.URL, n.HealthcheckURL)
	}
	s.Secrets = append(Secrets(urls...), extra...)
	slices.SortFunc(s.Secrets, func(a, b string) int { return len(b) - len(a) })
	return s
}

func (s *Sender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return &http.Client{Timeout: Timeout}
}

// Wants reports whether any notify block takes events of kind.
func (s *Sender) Wants(kind string) bool {
	for _, n := range s.Notifies {
		if n.URL != "" && slices.Contains(n.On, kind) {
			return true
		}
	}
	return false
}

// Send delivers ev to every notify block whose on list holds its kind. The
// error names the notify block and never its URL.
func (s *Sender) Send(ctx context.Context, ev Event) error {
	ev = s.scrubEvent(ev)
	var errs []error
	for _, n := range s.Notifies {
		if n.URL == "" || !slices.Contains(n.On, ev.Kind) {
			continue
		}
		if err := s.deliver(ctx, n.URL, ev); err != nil {
			errs = append(errs, fmt.Errorf("notify %q (%s): send %s: %s", n.Name, Describe(n.URL), ev.Kind, Scrub(err.Error(), s.Secrets)))
		}
	}
	return errors.Join(errs...)
}

func (s *Sender) scrubEvent(ev Event) Event {
	items := make([]Item, len(ev.Items))
	for i, it := range ev.Items {
		it.What = Scrub(it.What, s.Secrets)
		it.Error = Scrub(it.Error, s.Secrets)
		it.Todo = Scrub(it.Todo, s.Secrets)
		items[i] = it
	}
	ev.Items = items
	return ev
}

func (s *Sender) deliver(ctx context.Context, raw string, ev Event) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the url does not parse")
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		body, err := json.Marshal(ev.jsonBody())
		if err != nil {
			return err
		}
		return s.post(ctx, raw, "application/json", body)
	}
	r, err := router.New(nil, raw)
	if err != nil {
		return err
	}
	r.Timeout = Timeout
	params := types.Params{}
	params.SetTitle(ev.Title())
	done := make(chan []error, 1)
	go func() { done <- r.Send(ev.Text(), &params) }()
	select {
	case errs := <-done:
		return errors.Join(errs...)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// post sends body to raw and accepts any 2xx answer.
func (s *Sender) post(ctx context.Context, raw, contentType string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	if s.UserAgent != "" {
		req.Header.Set("User-Agent", s.UserAgent)
	}
	resp, err := s.client().Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // *url.Error quotes the whole URL
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the service answered %s", resp.Status)
	}
	return nil
}

// Ping stages of a healthcheck.
const (
	PingStart   = "start"
	PingSuccess = "success"
	PingFail    = "fail"
)

// Ping sends a healthchecks-style ping to every notify block with a
// healthcheck_url: URL/start when a run starts, URL on success, URL/fail
// with body (the error) on failure.
func (s *Sender) Ping(ctx context.Context, stage, body string) error {
	body = Scrub(body, s.Secrets)
	if len(body) > maxPingBody {
		body = body[:maxPingBody]
	}
	var errs []error
	for _, n := range s.Notifies {
		if n.HealthcheckURL == "" {
			continue
		}
		u := n.HealthcheckURL
		switch stage {
		case PingStart, PingFail:
			u += "/" + stage
		}
		if err := s.post(ctx, u, "text/plain; charset=utf-8", []byte(body)); err != nil {
			errs = append(errs, fmt.Errorf("notify %q (%s): healthcheck ping %s: %s", n.Name, Describe(n.HealthcheckURL), stage, Scrub(err.Error(), s.Secrets)))
		}
	}
	return errors.Join(errs...)
}

// HasPings reports whether any notify block has a healthcheck_url.
func (s *Sender) HasPings() bool {
	for _, n := range s.Notifies {
		if n.HealthcheckURL != "" {
			return true
		}
	}
	return false
}

// trimError keeps error texts short enough for chat services.
func trimError(s string) string {
	const max = 2000
	s = strings.TrimSpace(s)
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
