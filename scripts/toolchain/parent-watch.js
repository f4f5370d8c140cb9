// Preloaded (`node -r`) into Pulumi's dynamic-provider process by .tools/bin/pulumi-resource-pulumi-nodejs
// (written by scripts/setup.sh from this file).
//
// The Pulumi engine starts the dynamic provider as its child. When the engine dies without shutting
// the provider down (SIGKILL, OOM killer, a crash), nothing else would ever stop it: it would wait
// on its gRPC port forever, re-parented to init. So: once the parent is gone (process.ppid changes),
// exit. Only this process exits — processes the provider started detached on purpose (the dev
// stack's nats-servers) keep running. It says nothing: stderr is a pipe to the dead engine.
"use strict";
const parent = process.ppid;
if (parent > 1) {
    const timer = setInterval(() => {
        if (process.ppid === parent) return;
        process.exit(1);
    }, 500);
    timer.unref();
}
