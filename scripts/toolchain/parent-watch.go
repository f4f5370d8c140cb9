// Not part of upstream Pulumi: scripts/setup.sh adds this file to the pulumi-language-nodejs
// source (package main) before building it.
//
// The Pulumi engine starts the language host as its child, in a process group of its own. When the
// engine dies without shutting the host down (SIGKILL, OOM killer, a crash), the upstream host
// notices only at its engine health check, every 5 minutes, and the program it runs waits on the
// dead engine until then. This watch notices within a second: once the host's parent is gone (the
// kernel re-parents the host), it sends SIGTERM, and a second later SIGKILL, to the host's process
// group (the host and the node program it started) when the host leads that group, then exits.
// Processes that left the group on purpose (e.g. nats-server started detached in its own session)
// are not touched. It says nothing: its stderr is a pipe to the dead engine (a write would raise
// SIGPIPE).
package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

func init() {
	parent := os.Getppid()
	if parent <= 1 {
		return // started without a parent to watch (or it is already gone): nothing to tie to
	}
	go func() {
		for os.Getppid() == parent {
			time.Sleep(500 * time.Millisecond)
		}
		if syscall.Getpgrp() == os.Getpid() {
			signal.Ignore(syscall.SIGTERM) // outlive our own group's SIGTERM to follow up with SIGKILL
			_ = syscall.Kill(-os.Getpid(), syscall.SIGTERM)
			time.Sleep(time.Second)
			_ = syscall.Kill(-os.Getpid(), syscall.SIGKILL) // the rest of the group, and us
		}
		os.Exit(1)
	}()
}
