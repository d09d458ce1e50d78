package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/planner"
)

const secret = "tok3n-s3cret-value"

// receiver is a local webhook endpoint that records what it is sent.
type receiver struct {
	mu   sync.Mutex
	reqs []recorded
	code int
}

type recorded struct {
	Path, ContentType, Body string
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{code: http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.URL.Path, req.Header.Get("Content-Type"), string(body)})
		code := r.code
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func failedRun() Run {
	return Run{
		Host:  "nas1",
		Ended: time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC),
		Outcomes: []executor.Outcome{
			{Action: planner.Action{Kind: planner.KindSnapshot, Backup: "daily", Target: "b2"}, Snapshot: "2026-03-01T030000Z",
				Err: errors.New("upload webui.db: connection refused")},
			{Action: planner.Action{Kind: planner.KindSnapshot, Backup: "daily", Target: "nas"}, Snapshot: "2026-03-01T030000Z", Files: 3},
		},
		Err: errors.New("upload webui.db: connection refused"),
	}
}

func TestEvents(t *testing.T) {
	evs := Events(failedRun())
	if len(evs) != 1 || evs[0].Kind != config.NotifyOnFailure || len(evs[0].Items) != 1 {
		t.Fatalf("events = %+v, want one failure with one item", evs)
	}
	text := evs[0].Text()
	for _, want := range []string{`Backup "daily" → target "b2"`, "snapshot failed", "connection refused", "What to do:"} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q:\n%s", want, text)
		}
	}
	ok := failedRun()
	ok.Outcomes, ok.Err = ok.Outcomes[1:], nil
	if evs := Events(ok); len(evs) != 1 || evs[0].Kind != config.NotifyOnSuccess {
		t.Errorf("events of a good run = %+v, want one success", evs)
	}
	ok.Outcomes = nil
	if evs := Events(ok); len(evs) != 0 {
		t.Errorf("events of a run with nothing to do = %+v, want none", evs)
	}
}

func TestSendJSONAndShoutrrr(t *testing.T) {
	rec, srv := newReceiver(t)
	p := &config.Policy{Notifies: []*config.Notify{
		{Name: "hook", URL: srv.URL + "/hook/" + secret, On: []string{"failure"}},
		{Name: "generic", URL: strings.Replace(srv.URL, "http://", "generic+http://", 1) + "/generic?token=" + secret, On: []string{"failure", "success"}},
		{Name: "quiet", URL: srv.URL + "/quiet", On: []string{"success"}},
	}}
	s := NewSender(p)
	ev := Events(failedRun())[0]
	// An error text that happens to quote a notify URL must not leak it.
	ev.Items[0].Error += " (while posting to " + p.Notifies[0].URL + ")"
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	got := rec.all()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2 (hook and generic): %+v", len(got), got)
	}
	for _, r := range got {
		if strings.Contains(r.Body, secret) {
			t.Errorf("request to %s carries the secret: %s", r.Path, r.Body)
		}
		if !strings.Contains(r.Body, "connection refused") {
			t.Errorf("request to %s lacks the error: %s", r.Path, r.Body)
		}
	}
	var body jsonBody
	for _, r := range got {
		if strings.HasPrefix(r.Path, "/hook/") {
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if body.Event != "failure" || body.FormatVersion != FormatVersion || len(body.Items) != 1 || body.Items[0].Target != "b2" {
		t.Errorf("JSON body = %+v", body)
	}

	rec.mu.Lock()
	rec.code = http.StatusInternalServerError
	rec.mu.Unlock()
	err := s.Send(context.Background(), ev)
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), `notify "hook"`) {
		t.Errorf("failed delivery error = %v; want one naming the block, without the secret", err)
	}
}

func TestPing(t *testing.T) {
	rec, srv := newReceiver(t)
	p := &config.Policy{Notifies: []*config.Notify{{Name: "hc", HealthcheckURL: srv.URL + "/ping/" + secret}}}
	s := NewSender(p)
	ctx := context.Background()
	if err := s.Ping(ctx, PingStart, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx, PingFail, "snapshot failed: disk full"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx, PingSuccess, "ok"); err != nil {
		t.Fatal(err)
	}
	got := rec.all()
	want := []string{"/ping/" + secret + "/start", "/ping/" + secret + "/fail", "/ping/" + secret}
	if len(got) != 3 {
		t.Fatalf("got %d pings, want 3", len(got))
	}
	for i, r := range got {
		if r.Path != want[i] {
			t.Errorf("ping %d to %s, want %s", i, r.Path, want[i])
		}
	}
	if got[1].Body != "snapshot failed: disk full" {
		t.Errorf("fail ping body %q", got[1].Body)
	}
}

func TestScrub(t *testing.T) {
	secrets := Secrets("https://user:pa55word@hooks.example.com/services/T000/B000/XXXXXXXXSECRET?token=abcdefgh#frag12")
	text := Scrub("posting to https://user:pa55word@hooks.example.com/services/T000/B000/XXXXXXXXSECRET?token=abcdefgh#frag12 failed; token abcdefgh; path XXXXXXXXSECRET", secrets)
	for _, leak := range []string{"pa55word", "XXXXXXXXSECRET", "abcdefgh"} {
		if strings.Contains(text, leak) {
			t.Errorf("scrubbed text still holds %q: %s", leak, text)
		}
	}
	if d := Describe("https://user:pa55word@hooks.example.com/x"); d != "https://hooks.example.com" {
		t.Errorf("Describe = %q", d)
	}
}
