"use strict";
// Minimal Pulumi language host for Node.js programs, installed into .tools/lib by scripts/setup.sh.
//
// The upstream host (Go module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3)
// is not served by the Go module proxy this project can reach, so this small gRPC server stands in.
// It speaks the LanguageRuntime protocol with the @pulumi/pulumi SDK installed in the project and
// starts a program the way upstream does: `node <program's @pulumi/pulumi/cmd/run> --monitor=... .`
// Implemented: Handshake, GetPluginInfo, GetRequiredPlugins/Packages (empty: the engine loads
// provider plugins on demand, from PATH), Run, About, GetProgramDependencies, InstallDependencies
// (a no-op: `npm run setup` installs), Cancel. Everything else answers UNIMPLEMENTED.
const path = require("path");
const { spawn } = require("child_process");

// The project whose node_modules holds the SDK this host talks with: .tools/lib/../..
const ROOT = process.env.CIM_NATS_LANGHOST_SDK_ROOT || path.resolve(__dirname, "..", "..");
const VERSION = "__PULUMI_VERSION__";

const sdkDir = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [ROOT] }));
const fromSdk = (mod) => require(require.resolve(mod, { paths: [sdkDir] }));
const grpc = fromSdk("@grpc/grpc-js");
const { Empty } = fromSdk("google-protobuf/google/protobuf/empty_pb.js");
const langrpc = require(path.join(sdkDir, "proto", "language_grpc_pb.js"));
const langproto = require(path.join(sdkDir, "proto", "language_pb.js"));
const plugproto = require(path.join(sdkDir, "proto", "plugin_pb.js"));

// The CLI starts us as `pulumi-language-nodejs [flags] <engine-address>`.
const positional = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const engineAddress = positional.length > 0 ? positional[positional.length - 1] : "";
const running = new Set();

function run(call, callback) {
    const req = call.request;
    const resp = new langproto.RunResponse();
    const info = req.getInfo();
    const programDir = (info && info.getProgramDirectory()) || req.getPwd() || process.cwd();
    const rootDir = (info && info.getRootDirectory()) || "";
    const entry = (info && info.getEntryPoint()) || req.getProgram() || ".";
    const options = info && info.getOptions() ? info.getOptions().toJavaScript() : {};

    let runPath;
    try {
        runPath = path.dirname(require.resolve("@pulumi/pulumi/cmd/run", { paths: [programDir] }));
    } catch (e) {
        resp.setError(`It looks like the Pulumi SDK is not installed for ${programDir}: run npm run setup.`);
        return callback(null, resp);
    }

    const args = [];
    if (typeof options.nodeargs === "string" && options.nodeargs.trim() !== "") {
        args.push(...options.nodeargs.trim().split(/\s+/));
    }
    args.push(runPath);
    const add = (k, v) => {
        if (v !== undefined && v !== null && `${v}` !== "") {
            args.push(`--${k}=${v}`);
        }
    };
    add("monitor", req.getMonitorAddress());
    add("engine", engineAddress);
    add("organization", req.getOrganization());
    add("project", req.getProject());
    add("root-directory", rootDir);
    add("stack", req.getStack());
    add("pwd", req.getPwd() || programDir);
    if (req.getDryrun()) {
        args.push("--dry-run");
    }
    add("parallel", req.getParallel());
    args.push(entry, ...req.getArgsList());

    const config = {};
    for (const [k, v] of req.getConfigMap().entries()) {
        config[k] = v;
    }
    const env = Object.assign({}, process.env, {
        PULUMI_CONFIG: JSON.stringify(config),
        PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList() || []),
        PULUMI_NODEJS_TYPESCRIPT: options.typescript === false ? "false" : "true",
    });
    if (typeof options.tsconfig === "string" && options.tsconfig !== "") {
        env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
    }

    let answered = false;
    const answer = () => {
        if (!answered) {
            answered = true;
            callback(null, resp);
        }
    };
    const child = spawn(process.execPath, args, { cwd: programDir, env, stdio: ["ignore", "inherit", "inherit"] });
    running.add(child);
    child.on("error", (err) => {
        running.delete(child);
        resp.setError(`Problem executing program (could not run node): ${err.message}`);
        answer();
    });
    child.on("exit", (code, signal) => {
        running.delete(child);
        if (code === 32) {
            // The SDK already reported a user-actionable error: the engine should just stop.
            resp.setBail(true);
        } else if (signal) {
            resp.setError(`Program exited due to signal ${signal}`);
        } else if (code !== 0) {
            resp.setError(`Program exited with non-zero exit code: ${code}`);
        }
        answer();
    });
}

const impl = {
    handshake: (call, cb) => cb(null, new langproto.LanguageHandshakeResponse()),
    getPluginInfo: (call, cb) => cb(null, new plugproto.PluginInfo().setVersion(VERSION.replace(/^v/, ""))),
    getRequiredPlugins: (call, cb) => cb(null, new langproto.GetRequiredPluginsResponse()),
    getRequiredPackages: (call, cb) => cb(null, new langproto.GetRequiredPackagesResponse()),
    run,
    about: (call, cb) =>
        cb(null, new langproto.AboutResponse().setExecutable(process.execPath).setVersion(process.version)),
    getProgramDependencies: (call, cb) => cb(null, new langproto.GetProgramDependenciesResponse()),
    installDependencies: (call) => call.end(),
    cancel: (call, cb) => {
        for (const child of running) {
            child.kill("SIGINT");
        }
        cb(null, new Empty());
    },
};

const server = new grpc.Server({
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
    "grpc.max_send_message_length": 400 * 1024 * 1024,
});
server.addService(langrpc.LanguageRuntimeService, impl);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
        console.error(`pulumi-language-nodejs: cannot start the gRPC server: ${err.message}`);
        process.exit(1);
    }
    // The CLI reads the port from the first line we print.
    process.stdout.write(`${port}\n`);
});
