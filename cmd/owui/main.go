// Command owui is a declarative, Terraform-style backup reconciler for
// self-hosted Open WebUI.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// version is owui's version, set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := streams{
		In:    os.Stdin,
		Out:   os.Stdout,
		Err:   os.Stderr,
		InTTY: term.IsTerminal(int(os.Stdin.Fd())),
		TTY:   term.IsTerminal(int(os.Stdout.Fd())),
	}
	os.Exit(run(ctx, os.Args[1:], s))
}
