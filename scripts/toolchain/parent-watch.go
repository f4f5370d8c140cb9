// Not part of upstream Pulumi: scripts/setup.sh adds this file to the pulumi-language-nodejs
// source (package main) before building it.
//
// The Pulumi engine starts the language host as its child, in a process group of its own. When the
// engine dies without shutting the host down (SIGKILL, OOM killer, a crash), the upstream host
// notices only at its engine health check, every 5 minutes, and the program it runs waits on the
// dead engine until then. This watch notices within a second: once the host's parent is gone (the
// kernel re-parents the host), it sends SIGTERM to the host's process group (the host and the
// node program it started) when the host leads that group, then exits. Processes that left the
// group on purpose (e.g. nats-server started detached in its own session) are not touched.
package main

import (
	"os"
	"strconv"
	"syscall"
	"time"
)

func init() {
	parent := os.Getppid()
	if parent <= 1 {
		return // started without a parent to watch (or it is already gone): nothing to tie to
	}
	go func() {
		for {
			time.Sleep(500 * time.Millisecond)
			if os.Getppid() == parent {
				continue
			}
			os.Stderr.WriteString("pulumi-language-nodejs: the Pulumi engine (pid " + strconv.Itoa(parent) + ") is gone; exiting\n")
			if syscall.Getpgrp() == os.Getpid() {
				_ = syscall.Kill(-os.Getpid(), syscall.SIGTERM) // our group: the program too, and us
				time.Sleep(2 * time.Second)
				_ = syscall.Kill(-os.Getpid(), syscall.SIGKILL)
			}
			os.Exit(1)
		}
	}()
}
