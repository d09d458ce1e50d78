// Command owui is a declarative, Terraform-style backup reconciler for
// self-hosted Open WebUI.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rclone/rclone/lib/atexit"
	"golang.org/x/term"
)

// version is owui's version, set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	// rclone would otherwise catch SIGINT and SIGTERM itself and exit at
	// once, skipping owui's cleanup (partial snapshot, staging, lock, and the
	// container undo); owui cancels its context instead and runs rclone's
	// exit handlers when it is done.
	atexit.IgnoreSignals()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := streams{
		In:    os.Stdin,
		Out:   os.Stdout,
		Err:   os.Stderr,
		InTTY: term.IsTerminal(int(os.Stdin.Fd())),
		TTY:   term.IsTerminal(int(os.Stdout.Fd())),
	}
	code := run(ctx, os.Args[1:], s)
	stop()
	atexit.Run()
	os.Exit(code)
}
