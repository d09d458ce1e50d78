// Package s3test runs a real S3 endpoint inside the test process: rclone's
// `serve s3` (gofakes3 over rclone's VFS) serving a local directory.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	iofs "io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rclone/rclone/fs/rc"

	// Registers the "s3" serve type with the rc serve/start call, and the
	// local backend the server stores objects with.
	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/cmd/serve/s3"
)

// Test credentials the server accepts (AWS signature v4).
const (
	AccessKeyID     = "owui-test-access-key"
	SecretAccessKey = "owui-test-secret-key"
	// Bucket is the bucket Start creates.
	Bucket = "owui-test"
)

// Start serves a new, empty S3 endpoint on a random port of 127.0.0.1 with
// its objects in a directory under t.TempDir(), stops it when the test ends,
// and returns an rclone connection string for the bucket it created:
// ":s3,provider=Rclone,endpoint='http://127.0.0.1:PORT',…:owui-test".
//
// The server's constructor in cmd/serve/s3 is unexported; the public way in
// is the rc call "serve/start" (what `rclone rc serve/start type=s3` runs),
// which that package registers and which returns the bound address and an id
// for "serve/stop". The connection string names StartServer's proxy in
// front of it.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).Remote
}

// Server is an S3 endpoint that StartServer started, with a view of the
// requests in flight and of where the objects are kept.
type Server struct {
	// Remote is the rclone connection string for the bucket, as Start
	// returns it.
	Remote string
	// Dir is the directory the objects are kept in: an object KEY of the
	// bucket is the file Dir/Bucket/KEY. Tests look there for what the
	// server holds beyond what S3 shows (temporary files of uploads cut
	// short).
	Dir string

	srv  *http.Server
	addr string // the proxy's address, which Remote names

	mu    sync.Mutex
	conns map[net.Conn]connState
	ln    net.Listener
	// writes passes requests that write or delete objects one at a
	// time, and none while a read is served.
	writes sync.RWMutex
}

// StartServer is Start, and returns the Server: the endpoint is a proxy
// in front of rclone's, which sees every request, so that Server.Quiesce
// can settle those that a client which died left in flight.
//
// The proxy also passes requests that write or delete objects one at a
// time, and none beside a read. Two uploads at once into a directory the
// server has not made yet can fail one of them with a 500 ("file does not
// exist") that no retry makes up for. And deletes must not leave an empty
// directory behind: the server removes the directories a
// delete empties, but two deletes at once in one directory can each find
// the other's object still there (cmd/serve/s3's deleteObject calls it an
// unsafe operation), and it then lists the empty directory as a prefix,
// which S3 never does. A delete holds its turn until the server answers,
// even when the client that sent it was killed. Any other request that
// reads a directory while a delete empties it (a listing, or the lookup of
// an object beside it) can put the deleted object back in the server's
// view of that directory, with the same result, so a delete runs alone.
func StartServer(t testing.TB) *Server {
	t.Helper()
	addr, dir := start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &Server{
		Remote: remoteAt(ln.Addr().String()), Dir: dir,
		addr: ln.Addr().String(), conns: map[net.Conn]connState{}, ln: ln,
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	proxy.ErrorLog = log.New(io.Discard, "", 0) // clients killed mid-request
	proxy.ModifyResponse = s.dropEmptyPrefixes
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodDelete || (r.Method == http.MethodPost && r.URL.Query().Has("delete")):
				s.writes.Lock()
				defer s.writes.Unlock()
				// A client that dies does not end the delete on the
				// server: the lock is held until the server is done.
				r = r.WithContext(context.WithoutCancel(r.Context()))
			case r.Method == http.MethodGet || r.Method == http.MethodHead:
				s.writes.RLock()
				defer s.writes.RUnlock()
			default:
				s.writes.Lock()
				defer s.writes.Unlock()
			}
			proxy.ServeHTTP(w, r)
		}),
		ConnState: func(c net.Conn, state http.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if state == http.StateClosed || state == http.StateHijacked {
				delete(s.conns, c)
			} else {
				s.conns[c] = connState{state, time.Now()}
			}
		},
	}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// commonPrefix is one prefix in a bucket listing's answer.
var commonPrefix = regexp.MustCompile(`<CommonPrefixes>\s*<Prefix>([^<]*)</Prefix>\s*</CommonPrefixes>\s*`)

// dropEmptyPrefixes removes from a bucket listing the prefixes under which
// the server holds no object, only empty directories: S3 has no such
// prefixes (a prefix is there because an object's key starts with it), but
// this server can leave an empty directory behind when deletes in it race
// with its own directory cache, which no serializing of requests fully
// prevents. A client killed in the middle of a prune makes that likely.
func (s *Server) dropEmptyPrefixes(resp *http.Response) error {
	r := resp.Request
	if r.Method != http.MethodGet || strings.Trim(r.URL.Path, "/") != Bucket || resp.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	body = commonPrefix.ReplaceAllFunc(body, func(m []byte) []byte {
		p := html.UnescapeString(string(commonPrefix.FindSubmatch(m)[1]))
		if r.URL.Query().Get("encoding-type") == "url" {
			if u, err := url.QueryUnescape(p); err == nil {
				p = u
			}
		}
		if hasFiles(filepath.Join(s.Dir, Bucket, filepath.FromSlash(p))) {
			return m
		}
		return nil
	})
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// hasFiles reports whether there is a file anywhere under dir (or dir
// cannot be read: then the prefix is left as the server gave it).
func hasFiles(dir string) bool {
	found := false
	err := filepath.WalkDir(dir, func(_ string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found || err != nil
}

// Quiesce settles the requests of clients that are gone. A client that
// dies leaves requests behind that the server may still receive: some not
// yet accepted, some sent on a connection kept open between requests and
// not yet read. Quiesce closes the listening socket, which refuses the
// first, and the connections kept open, which drops the second; then it
// waits for at most timeout until no request is being received or served,
// and listens again on the same address.
func (s *Server) Quiesce(timeout time.Duration) error {
	s.mu.Lock()
	_ = s.ln.Close()
	s.mu.Unlock()
	s.srv.SetKeepAlivesEnabled(false) // closes the idle connections
	idle := s.waitIdle(timeout)
	s.srv.SetKeepAlivesEnabled(true)
	var ln net.Listener
	var err error
	// The closed socket is let go of once its Accept returns.
	for range 100 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("listen again: %w", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	go func() { _ = s.srv.Serve(ln) }()
	if !idle {
		return fmt.Errorf("requests still in flight after %s", timeout)
	}
	return nil
}

// waitIdle waits until no request has been received or served for a
// little while, for at most timeout, and reports whether that happened.
func (s *Server) waitIdle(timeout time.Duration) bool {
	const quiet = 30 * time.Millisecond
	deadline := time.Now().Add(timeout)
	var idleSince time.Time
	for {
		s.mu.Lock()
		busy := false
		for _, c := range s.conns {
			busy = busy || c.busy()
		}
		s.mu.Unlock()
		switch {
		case busy:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = time.Now()
		case time.Since(idleSince) >= quiet:
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connState is a connection's state, and since when.
type connState struct {
	state http.ConnState
	since time.Time
}

// busy reports whether a request is being received or served on the
// connection. A connection that has not sent its first request for a
// second is idle: clients open connections ahead of need.
func (c connState) busy() bool {
	return c.state == http.StateActive || (c.state == http.StateNew && time.Since(c.since) < time.Second)
}

// start serves a new, empty bucket from a directory under t.TempDir() and
// returns the server's address and that directory.
func start(t testing.TB) (addr, dir string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "s3")
	if err := os.MkdirAll(filepath.Join(dir, Bucket), 0o755); err != nil {
		t.Fatalf("create bucket directory: %v", err)
	}
	ctx := context.Background()
	out, err := call(ctx, "serve/start", rc.Params{
		"type":     "s3",
		"fs":       dir,
		"addr":     []string{"127.0.0.1:0"},
		"auth_key": []string{AccessKeyID + "," + SecretAccessKey},
	})
	if err != nil {
		t.Fatalf("start s3 server: %v", err)
	}
	id, _ := out["id"].(string)
	addr, _ = out["addr"].(string)
	t.Cleanup(func() {
		if _, err := call(context.Background(), "serve/stop", rc.Params{"id": id}); err != nil {
			t.Errorf("stop s3 server: %v", err)
		}
	})
	return addr, dir
}

// remoteAt is the connection string for the bucket served at addr.
func remoteAt(addr string) string {
	return fmt.Sprintf(":s3,provider=Rclone,endpoint='http://%s',access_key_id=%s,secret_access_key=%s:%s",
		addr, AccessKeyID, SecretAccessKey, Bucket)
}

func call(ctx context.Context, path string, in rc.Params) (rc.Params, error) {
	c := rc.Calls.Get(path)
	if c == nil {
		return nil, fmt.Errorf("rc call %s is not registered", path)
	}
	return c.Fn(ctx, in)
}
