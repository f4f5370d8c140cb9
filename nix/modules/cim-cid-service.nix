# cim-cid-service: cimstor's content-addressed object service (components/cid), in nixpkgs
# service style. One Node program (components/cid/service-main.ts bundled into one file by
# components/cid/bundle.ts, no node_modules on the host) answering `<prefix>.put` and
# `<prefix>.get.<cid>` over an object bucket of the leaf it connects to.
#
# Its NATS user's creds come from a file outside the Nix store (credentialsFile), copied by root
# into the unit's runtime dir (0400, the unit's user only) before every start; the unit itself
# runs as a dynamic user with no state. Not systemd's LoadCredential: the LXC service override of
# nixpkgs' LXC profile (zzz-lxc-service.conf) resets `LoadCredential=` in unprivileged containers.
# Stop: SIGTERM makes the service drain (answer what is in flight, then exit 0).
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    concatStringsSep
    mkEnableOption
    mkIf
    mkOption
    types
    ;

  cfg = config.services.cim-cid-service;

  # Root copies the secret files here before every start, readable only by the unit's (dynamic) user.
  runtimeDir = "/run/cim-cid-service";
  credentialTarget = "${runtimeDir}/nats.creds";
  caTarget = "${runtimeDir}/ca.pem";
  secretFiles = {
    "nats.creds" = cfg.credentialsFile;
  }
  // lib.optionalAttrs (cfg.caFile != null) { "ca.pem" = cfg.caFile; };

  # Runs as root (`+`) after systemd made the runtime dir for the dynamic user: the files get that
  # dir's owner, whole (`mv` over the old one).
  installRuntimeFiles = pkgs.writeShellScript "cim-cid-service-runtime-files" (
    ''
      set -eu
      dir=${runtimeDir}
      owner=$(${pkgs.coreutils}/bin/stat -c %u:%g "$dir")
      place() {
        ${pkgs.coreutils}/bin/install -m 0400 -o "''${owner%:*}" -g "''${owner#*:}" "$1" "$dir/.$2.new"
        ${pkgs.coreutils}/bin/mv -f "$dir/.$2.new" "$dir/$2"
      }
    ''
    + lib.concatStrings (lib.mapAttrsToList (file: source: "place ${lib.escapeShellArg source} ${file}\n") secretFiles)
  );

  # The SHA-256 of a secret file as the deploy recorded it (services.cim-nats.secretFileHashes,
  # the system is built where the files are not), else the file's own where this evaluates.
  secretHash =
    source:
    (config.services.cim-nats.secretFileHashes or { }).${source}
      or (if builtins.pathExists source then builtins.hashFile "sha256" source else null);
in
{
  options.services.cim-cid-service = {
    enable = mkEnableOption "the cim-nats CID object service";

    node = mkOption {
      type = types.package;
      default = pkgs.nodejs_22;
      defaultText = lib.literalExpression "pkgs.nodejs_22";
      description = "Node.js that runs the service (22 or later: the bundle targets node22).";
    };

    script = mkOption {
      type = types.path;
      description = "The bundled service (one CommonJS file, rendered by the stack as cid-service.js).";
    };

    natsUrls = mkOption {
      type = types.listOf types.str;
      example = [ "nats://172.16.0.2:4222" ];
      description = "Client URLs of the leaf the service connects to (the one whose JetStream holds the bucket).";
    };

    credentialsFile = mkOption {
      type = types.str;
      example = "/var/lib/cim-nats/secrets/cid-service.creds";
      description = ''
        Path of the service user's `.creds` on the host, outside the Nix store. Copied by root
        into the unit's runtime dir before every start; a rotated file restarts the unit.
      '';
    };

    caFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/var/lib/cim-nats/secrets/cimstor/ca.pem";
      description = ''
        The stack CA (PEM) on the host when the servers require TLS: the service trusts it alone.
        Copied into the unit's runtime dir before every start; a new CA restarts the unit.
      '';
    };

    bucket = mkOption {
      type = types.str;
      default = "CLUSTER_OBJECTS";
      description = "Object bucket the objects are stored in, the CID as the object name.";
    };

    subjectPrefix = mkOption {
      type = types.str;
      default = "cimstor.objects";
      description = "Subjects served: `<prefix>.put` and `<prefix>.get.<cid>`.";
    };

    inboxPrefix = mkOption {
      type = types.str;
      default = "_INBOX_cid-service";
      description = "The user's own inbox prefix; its JWT allows replies only there.";
    };

    maxPendingBytes = mkOption {
      type = types.ints.positive;
      default = 268435456;
      description = "Bytes of unfinished chunked uploads held at once, all clients together; a chunk over it is refused with 503.";
    };

    healthAddress = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "172.16.0.2:8290";
      description = "`host:port` of an HTTP /healthz (200 while connected and serving); none when null.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the health port (only useful with healthAddress on a non-loopback address).";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.natsUrls != [ ];
        message = "services.cim-cid-service.natsUrls is empty: give the client URL of the leaf holding the bucket.";
      }
      {
        assertion = !(lib.hasPrefix builtins.storeDir cfg.credentialsFile);
        message = "services.cim-cid-service.credentialsFile points into the Nix store, where every user can read it: keep creds under /var/lib.";
      }
    ];

    systemd.services.cim-cid-service = {
      description = "cim-nats CID object service";
      wantedBy = [ "multi-user.target" ];
      # The leaf it serves at runs on the same host when it has one; the service reconnects either way.
      after = [
        "network-online.target"
        "cim-nats-leaf.service"
      ];
      wants = [ "network-online.target" ];
      # A new program or a rotated secret restarts it: the copies are made at start.
      restartTriggers = [ cfg.script ] ++ lib.filter (h: h != null) (map secretHash (lib.attrValues secretFiles));
      environment = {
        CID_NATS_URLS = concatStringsSep "," cfg.natsUrls;
        CID_NATS_CREDS = credentialTarget;
        CID_BUCKET = cfg.bucket;
        CID_SUBJECT_PREFIX = cfg.subjectPrefix;
        CID_MAX_PENDING_BYTES = toString cfg.maxPendingBytes;
        CID_INBOX_PREFIX = cfg.inboxPrefix;
        NODE_ENV = "production";
      }
      // lib.optionalAttrs (cfg.healthAddress != null) { CID_HEALTH_ADDR = cfg.healthAddress; }
      // lib.optionalAttrs (cfg.caFile != null) { CID_NATS_CA = caTarget; };

      serviceConfig = {
        Type = "simple";
        ExecStart = "${cfg.node}/bin/node ${cfg.script}";
        RuntimeDirectory = "cim-cid-service";
        RuntimeDirectoryMode = "0700";
        ExecStartPre = [ "+${installRuntimeFiles}" ];
        # SIGTERM: the service drains its subscriptions and exits 0.
        KillSignal = "SIGTERM";
        TimeoutStopSec = "30s";
        Restart = "always";
        RestartSec = "2s";

        # No state, no files of its own: a throwaway user per run.
        DynamicUser = true;

        # Hardening, as for the nats-server units.
        CapabilityBoundingSet = "";
        LockPersonality = true;
        # V8's JIT writes and then executes code pages: W^X enforcement would kill node.
        MemoryDenyWriteExecute = false;
        NoNewPrivileges = true;
        PrivateDevices = true;
        PrivateTmp = true;
        PrivateUsers = true;
        ProcSubset = "pid";
        ProtectClock = true;
        ProtectControlGroups = true;
        ProtectHome = true;
        ProtectHostname = true;
        ProtectKernelLogs = true;
        ProtectKernelModules = true;
        ProtectKernelTunables = true;
        ProtectProc = "invisible";
        ProtectSystem = "strict";
        RemoveIPC = true;
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [
          "@system-service"
          "~@privileged"
          "~@resources"
        ];
        UMask = "0077";
      };
    };

    networking.firewall.allowedTCPPorts = lib.optional (cfg.openFirewall && cfg.healthAddress != null) (
      lib.toInt (lib.last (lib.splitString ":" cfg.healthAddress))
    );
  };
}
