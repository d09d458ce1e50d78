// Command sqlitesnap runs owui's SQLite snapshot (executor/stage's
// SnapshotSQLite: the online backup API, then journal mode DELETE and
// integrity_check) on one database, for bench/run to time against
// `sqlite3 SRC ".backup DST"`. It prints one line: bytes of the copy, the
// wall time of the call in seconds, and how long the source's read
// transaction was held in milliseconds.
//
//	go run ./bench/internal/sqlitesnap SRC DST
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/owui/owui/executor/stage"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sqlitesnap SRC DST")
		os.Exit(2)
	}
	t0 := time.Now()
	info, err := stage.SnapshotSQLite(context.Background(), os.Args[1], os.Args[2])
	wall := time.Since(t0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sqlitesnap:", err)
		os.Exit(1)
	}
	if info.IntegrityCheck != "ok" {
		fmt.Fprintln(os.Stderr, "sqlitesnap: integrity_check of the copy:", info.IntegrityCheck)
		os.Exit(1)
	}
	st, err := os.Stat(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sqlitesnap:", err)
		os.Exit(1)
	}
	fmt.Printf("%d %.3f %.1f %s\n", st.Size(), wall.Seconds(), info.SourceHoldMillis, info.Method)
}
