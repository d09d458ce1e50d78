package livewriter

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childEnv carries the JSON Options to the child process; its presence is
// what makes MaybeRunChild run the writer.
const childEnv = "OWUI_LIVEWRITER_CHILD"

// linePrefix marks the child's protocol lines on stdout.
const linePrefix = "livewriter: "

// message is one protocol line from the child.
type message struct {
	Ready bool   `json:"ready,omitempty"`
	Err   string `json:"err,omitempty"`
	Stats *Stats `json:"stats,omitempty"`
}

// MaybeRunChild runs the writer and exits when this process was started by
// Start; otherwise it returns at once. Call it first in TestMain:
//
//	func TestMain(m *testing.M) {
//		livewriter.MaybeRunChild()
//		os.Exit(m.Run())
//	}
//
// The child commits until its stdin closes or it receives SIGINT or
// SIGTERM. A "window" line on stdin makes it report the Stats since the
// previous window; at the end it reports the Stats of the whole run.
func MaybeRunChild() {
	v, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	os.Exit(runChild(v, os.Stdin, os.Stdout))
}

func runChild(optsJSON string, in io.Reader, out io.Writer) int {
	emit := func(m message) {
		b, _ := json.Marshal(m)
		fmt.Fprintf(out, "%s%s\n", linePrefix, b)
	}
	var opts Options
	if err := json.Unmarshal([]byte(optsJSON), &opts); err != nil {
		emit(message{Err: fmt.Sprintf("decode options: %v", err)})
		return 2
	}
	w, err := openWriter(opts)
	if err != nil {
		emit(message{Err: err.Error()})
		return 2
	}
	defer w.db.Close()

	stop := make(chan struct{})
	var once sync.Once
	quit := func() { once.Do(func() { close(stop) }) }
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sigs; quit() }()

	w.start = time.Now()
	w.winStart = w.start
	done := make(chan struct{})
	go func() { defer close(done); w.loop(stop) }()
	emit(message{Ready: true})

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
		close(lines)
	}()
serve:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				quit()
				lines = nil
			} else if l == "window" {
				s := w.window()
				emit(message{Stats: &s})
			}
		case <-stop:
			break serve
		}
	}
	<-done
	s := w.total()
	emit(message{Stats: &s})
	return 0
}

// writer is the child's state.
type writer struct {
	opts   Options
	db     *sql.DB
	insert *sql.Stmt
	bump   *sql.Stmt

	mu          sync.Mutex
	start       time.Time
	all, win    []time.Duration
	winStart    time.Time
	fails, wFai int64
	first, wFir string
	counter     int64
}

func openWriter(opts Options) (*writer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// Like an application: read-write, IMMEDIATE transactions (so a commit
	// never fails with a lock upgrade deadlock), the busy timeout waiting
	// out other connections' locks.
	q := uri(opts.Path,
		fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()),
		"journal_mode("+opts.Mode+")",
		"synchronous("+opts.Synchronous+")",
	) + "&_txlock=immediate"
	db, err := sql.Open("sqlite", q)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", opts.Path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	w := &writer{opts: opts, db: db}
	if w.insert, err = db.Prepare(`INSERT INTO chat (body) VALUES (randomblob(?))`); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", opts.Path, err)
	}
	if w.bump, err = db.Prepare(`UPDATE counter SET n = n + 1 RETURNING n`); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", opts.Path, err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != opts.Mode {
		db.Close()
		return nil, fmt.Errorf("open %s: journal mode %q (%v), want %s", opts.Path, mode, err, opts.Mode)
	}
	return w, nil
}

func (w *writer) loop(stop <-chan struct{}) {
	var interval time.Duration
	if w.opts.Rate > 0 {
		interval = time.Second / time.Duration(w.opts.Rate)
	}
	next := time.Now()
	for {
		select {
		case <-stop:
			return
		default:
		}
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = next.Add(interval)
		}
		t0 := time.Now()
		n, err := w.commit()
		lat := time.Since(t0)
		w.mu.Lock()
		w.all = append(w.all, lat)
		w.win = append(w.win, lat)
		if err != nil {
			w.fails++
			w.wFai++
			if w.first == "" {
				w.first = err.Error()
			}
			if w.wFir == "" {
				w.wFir = err.Error()
			}
		} else {
			w.counter = n
		}
		w.mu.Unlock()
	}
}

// commit runs one application transaction and returns the new counter.
func (w *writer) commit() (int64, error) {
	tx, err := w.db.Begin()
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.Stmt(w.insert).Exec(w.opts.RowBytes); err != nil {
		return 0, fmt.Errorf("insert: %w", err)
	}
	var n int64
	if err := tx.Stmt(w.bump).QueryRow().Scan(&n); err != nil {
		return 0, fmt.Errorf("update: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

// window returns the Stats since the previous window and starts a new one.
func (w *writer) window() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	s := summarize(w.win, w.wFai, w.wFir, now.Sub(w.winStart), w.counter)
	w.win, w.wFai, w.wFir, w.winStart = nil, 0, "", now
	return s
}

func (w *writer) total() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return summarize(w.all, w.fails, w.first, time.Since(w.start), w.counter)
}
