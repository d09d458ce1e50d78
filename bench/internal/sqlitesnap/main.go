// Command sqlitesnap runs owui's SQLite snapshot (executor/stage's
// SnapshotSQLite: the online backup API, then journal mode DELETE and
// integrity_check) on one database, for bench/run to time against
// `sqlite3 SRC ".backup DST"`; with -copy, the copy alone (CopySQLite: no
// integrity_check, which apply runs beside the uploads). It prints one
// line: bytes of the copy, the wall time of the call in seconds, how long
// the source's read transaction was held in milliseconds, and the method.
//
//	go run ./bench/internal/sqlitesnap [-copy] SRC DST
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/owui/owui/executor/stage"
)

func main() {
	args := os.Args[1:]
	copyOnly := len(args) == 3 && args[0] == "-copy"
	if copyOnly {
		args = args[1:]
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sqlitesnap [-copy] SRC DST")
		os.Exit(2)
	}
	snapshot := stage.SnapshotSQLite
	if copyOnly {
		snapshot = stage.CopySQLite
	}
	t0 := time.Now()
	info, err := snapshot(context.Background(), args[0], args[1])
	wall := time.Since(t0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sqlitesnap:", err)
		os.Exit(1)
	}
	if !copyOnly && info.IntegrityCheck != "ok" {
		fmt.Fprintln(os.Stderr, "sqlitesnap: integrity_check of the copy:", info.IntegrityCheck)
		os.Exit(1)
	}
	st, err := os.Stat(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sqlitesnap:", err)
		os.Exit(1)
	}
	fmt.Printf("%d %.3f %.1f %s\n", st.Size(), wall.Seconds(), info.SourceHoldMillis, info.Method)
}
