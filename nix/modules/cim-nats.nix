# cim-nats: nats-server instances of the CIM NATS backbone, in nixpkgs service style.
#
# A host runs one or more instances of one definition: the leaf server and/or the hub member
# (`services.cim-nats.instances.leaf`, `.hub`). The generated per-host file (rendered by
# components/render/nixos-host.ts) sets each instance's typed options and its `settings`, the
# nats-server config tree the TypeScript renderer produces and the tests validate.
#
# The config is written in nats-server's own syntax (`toNatsConf`), not JSON: a hub member's
# `cluster` block includes its route authorization (`include "cluster-auth.conf"`), which only
# that syntax can say.
#
# Day 2: a unit's config (/etc/cim-nats/<instance>.conf) and its secret files (TLS key,
# certificate, CA, route authorization, leaf-link creds; root-owned 0600 files the deploy places
# outside the store) are copied by root into the unit's runtime dir (/run/cim-nats-<instance>,
# 0400, readable by the service user only) before start and on every reload, so the unit file
# never changes with them. Not systemd's LoadCredential: the LXC service override that nixpkgs'
# LXC profile ships (zzz-lxc-service.conf) resets `LoadCredential=` for every service in an
# unprivileged container, which would leave a leaf without its creds. A change nats-server applies on SIGHUP (accounts, permissions, routes, certificates, ...)
# only *reloads* the unit (`reloadTriggers`: the config and the secret files' hashes); a change it
# cannot take restarts it (`restartTriggers` = the restart-only part of the settings,
# `restartSettings`, classified by components/render/reload-rules.ts).
# Stops use lame duck mode (SIGUSR2): clients move to other servers before this one exits.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    attrValues
    concatMap
    concatStringsSep
    filterAttrs
    hasPrefix
    literalExpression
    mapAttrs'
    mapAttrsToList
    mkDefault
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    nameValuePair
    optional
    optionals
    removePrefix
    toInt
    types
    unique
    ;

  cfg = config.services.cim-nats;

  format = pkgs.formats.json { };

  unitName = name: "cim-nats-${name}";

  # Where a unit's nats-server reads its config and secret files: a systemd RuntimeDirectory,
  # the service user's only (0700). The settings name its files there (`runtimeDir` option).
  runtimeDir = name: "/run/${unitName name}";

  # The secret files of an instance that a SIGHUP re-reads: name in its runtime dir → source on the host.
  secretFiles =
    inst:
    lib.optionalAttrs (inst.tls != null) {
      "cert.pem" = inst.tls.certFile;
      "key.pem" = inst.tls.keyFile;
      "ca.pem" = inst.tls.caFile;
    }
    // lib.optionalAttrs (inst.clusterAuthFile != null) { "cluster-auth.conf" = inst.clusterAuthFile; };

  # Every secret file placed in the runtime dir, the leaf-link creds included.
  runtimeSecretFiles =
    inst:
    secretFiles inst
    // lib.optionalAttrs (inst.leafnodeCredentialsFile != null) { "leafnode.creds" = inst.leafnodeCredentialsFile; }
    // lib.optionalAttrs (inst.systemLinkCredentialsFile != null) { "system-link.creds" = inst.systemLinkCredentialsFile; };

  # The SHA-256 of a secret file: the one the deploy recorded (secretFileHashes: the system is
  # built where the files are not), else the file's own when it exists where this evaluates.
  # A hash of a key or seed reveals nothing.
  secretHash =
    source:
    cfg.secretFileHashes.${source}
      or (if builtins.pathExists source then builtins.hashFile "sha256" source else null);
  secretHashes = sources: lib.filter (h: h != null) (map secretHash sources);

  # nats-server's config syntax: `"key": value` per line, JSON scalars (its lexer reads JSON
  # strings, numbers and booleans as they are), and the key `include` as nats-server's include
  # directive, `include "<file>"` (a path relative to the config file's folder; nats-server
  # refuses `"include": ...` as an unknown field).
  toNatsConf =
    let
      value =
        indent: path: v:
        if builtins.isAttrs v then
          "{\n${entries "${indent}  " path v}${indent}}"
        else if builtins.isList v then
          "[\n${
            lib.concatImapStrings (i: x: "${indent}  ${value "${indent}  " "${path}[${toString (i - 1)}]" x}\n") v
          }${indent}]"
        else if v == null then
          throw "services.cim-nats: settings.${path} is null; nats-server has no null: omit the key"
        else
          builtins.toJSON v;
      entries =
        indent: path: attrs:
        lib.concatStrings (
          mapAttrsToList (
            k: v:
            let
              p = if path == "" then k else "${path}.${k}";
            in
            if k == "include" then
              (
                if builtins.isString v && !(hasPrefix "/" v) then
                  "${indent}include ${builtins.toJSON v}\n"
                else
                  throw "services.cim-nats: settings.${p} must be a relative file path (nats-server joins it to the config file's folder)"
              )
            else
              "${indent}${builtins.toJSON k}: ${value indent p v}\n"
          ) attrs
        );
    in
    settings: entries "" "" settings;

  enabledInstances = filterAttrs (_: inst: inst.enable) cfg.instances;

  # Where the unit's nats-server reads the leaf-link creds: its runtime dir, copied there by root.
  leafnodeCredentialTarget = name: "${runtimeDir name}/leafnode.creds";

  # The settings as written to the store: a leafnode remote that names no credentials points at
  # the runtime copy of the leaf-link creds, so the secret itself never enters the Nix store
  # (cim-nats renders each remote's credential path itself: the system link's is system-link.creds).
  finalSettings =
    name: inst:
    if inst.leafnodeCredentialsFile == null then
      inst.settings
    else
      inst.settings
      // {
        leafnodes = (inst.settings.leafnodes or { }) // {
          remotes = map (
            remote: { credentials = leafnodeCredentialTarget name; } // remote
          ) (inst.settings.leafnodes.remotes or [ ]);
        };
      };

  # The config's stable path: the unit file does not change with the config; the reload copies
  # the new one into the runtime dir, where nats-server reads it (the include resolves there).
  configPath = name: "/etc/cim-nats/${name}.conf";
  runtimeConfig = name: "${runtimeDir name}/nats.conf";

  # Root (`+`) copies the config and the secret files into the runtime dir, readable by the
  # service user only; each file lands whole (`mv` over the old one). Before every start and
  # before every SIGHUP: a re-issued certificate or a new config is what the reload reads. The
  # script names only stable paths, so it (and the unit) changes only when those do.
  installRuntimeFiles =
    name: inst:
    pkgs.writeShellScript "cim-nats-${name}-runtime-files" (
      ''
        set -eu
        dir=${runtimeDir name}
        place() {
          ${pkgs.coreutils}/bin/install -m 0400 -o ${cfg.user} -g ${cfg.group} "$1" "$dir/.$2.new"
          ${pkgs.coreutils}/bin/mv -f "$dir/.$2.new" "$dir/$2"
        }
        place ${configPath name} nats.conf
      ''
      + lib.concatStrings (mapAttrsToList (file: source: "place ${lib.escapeShellArg source} ${file}\n") (runtimeSecretFiles inst))
    );

  # What restarts the unit when it changes: the settings nats-server cannot reload. Without a
  # classification (`restartSettings = null`) every change restarts, the safe default.
  restartOnly =
    name: inst:
    format.generate "cim-nats-${name}-restart-only.json" (
      if inst.restartSettings == null then finalSettings name inst else inst.restartSettings
    );

  # `lame_duck_duration` in seconds ("30s", "2m", "1h" or a number of seconds); nats-server's
  # own default is 2 minutes.
  lameDuckSeconds =
    inst:
    let
      d = inst.settings.lame_duck_duration or "2m";
      m = builtins.match "([0-9]+)(s|m|h)?" (toString d);
      n = toInt (builtins.head m);
      unit = builtins.elemAt m 1;
    in
    if m == null then
      throw "services.cim-nats: lame_duck_duration '${toString d}' is not whole seconds, minutes or hours (e.g. \"30s\")"
    else if unit == "m" then
      n * 60
    else if unit == "h" then
      n * 3600
    else
      n;

  # A re-issued certificate or a new route authorization reloads the unit (the reload copies it
  # and nats-server re-reads TLS files and includes on SIGHUP).
  secretTriggers = inst: secretHashes (attrValues (secretFiles inst));

  # A rotated leaf-link credential restarts the leaf: the connection it holds was made with the
  # old creds, and only a restart makes it log in again.
  credentialTriggers =
    inst:
    optionals (inst.leafnodeCredentialsFile != null) (secretHashes [ inst.leafnodeCredentialsFile ])
    ++ optionals (inst.systemLinkCredentialsFile != null) (secretHashes [ inst.systemLinkCredentialsFile ]);

  # A bad config fails `nixos-rebuild`, not the running service. `-t` binds no port and opens
  # neither the store dir nor the creds, but it does load the TLS files and the include, which
  # are not in the build sandbox: it checks a copy whose runtime dir is a sandbox folder holding
  # a throwaway certificate (openssl, self-signed, one day) as cert and CA, and a route
  # authorization of the same shape as the real one. Only the secret values differ.
  configFile =
    name: inst:
    let
      unvalidated = pkgs.writeText "cim-nats-${name}.conf" (toNatsConf (finalSettings name inst));
      files = secretFiles inst;
    in
    if inst.validateConfig then
      pkgs.runCommand "cim-nats-${name}-validated.conf"
        {
          nativeBuildInputs = [
            inst.package
            pkgs.openssl
          ];
        }
        (
          ''
            check=$PWD/check
            mkdir -p "$check"
            sed "s|${runtimeDir name}/|$check/|g" ${unvalidated} > "$check/nats.conf"
          ''
          + lib.optionalString (files ? "cert.pem") ''
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
              -subj /CN=cim-nats-check -keyout "$check/key.pem" -out "$check/cert.pem" 2>/dev/null
            cp "$check/cert.pem" "$check/ca.pem"
          ''
          + lib.optionalString (files ? "cluster-auth.conf") ''
            printf 'authorization { user: "cim-route", password: "build-time-check-only-0000" }\n' > "$check/cluster-auth.conf"
          ''
          + ''
            nats-server -t -c "$check/nats.conf"
            ln -s ${unvalidated} $out
          ''
        )
    else
      unvalidated;

  listenerPorts =
    inst:
    [
      inst.port
      inst.monitorPort
    ]
    ++ optional (inst.clusterPort != null) inst.clusterPort
    ++ optional (inst.leafnodePort != null) inst.leafnodePort;

  # Firewall, per listener: the client port to the network; monitoring only when it listens on a
  # non-loopback address; routes and leafnodes only from their peers' addresses (nftables rules,
  # as the plain port list cannot say "from whom").
  monitorExposed = inst: !(hasPrefix "127." inst.monitorHost);

  openPorts =
    inst:
    optionals inst.openFirewall ([ inst.port ] ++ optional (monitorExposed inst) inst.monitorPort);

  peerRule =
    name: what: port: peers:
    optional (
      port != null && peers != [ ]
    ) "ip saddr { ${concatStringsSep ", " peers} } tcp dport ${toString port} accept comment \"cim-nats ${name} ${what}\"";

  peerRules =
    name: inst:
    optionals inst.openFirewall (
      peerRule name "routes" inst.clusterPort inst.routePeers
      ++ peerRule name "leafnodes" inst.leafnodePort inst.leafnodePeers
    );

  allPeerRules = concatMap (name: peerRules name enabledInstances.${name}) (
    builtins.attrNames enabledInstances
  );

  instanceModule =
    { name, config, ... }:
    {
      options = {
        enable = mkEnableOption "this nats-server instance" // {
          default = true;
        };

        package = mkOption {
          type = types.package;
          default = cfg.package;
          defaultText = literalExpression "config.services.cim-nats.package";
          description = "nats-server package of this instance.";
        };

        serverName = mkOption {
          type = types.str;
          default = name;
          example = "nats-1-hub";
          description = ''
            `server_name` of this instance; unique within the whole topology (a leaf is named after
            its host, a hub member `<host>-hub`).
          '';
        };

        host = mkOption {
          type = types.str;
          default = "0.0.0.0";
          example = "10.0.0.41";
          description = "Address every listener of this instance (client, monitoring, routes, leafnodes) binds.";
        };

        port = mkOption {
          type = types.port;
          default = 4222;
          description = "Client port.";
        };

        monitorPort = mkOption {
          type = types.port;
          default = 8222;
          description = "HTTP monitoring port (`/healthz`, `/varz`, `/jsz`, ...).";
        };

        monitorHost = mkOption {
          type = types.str;
          default = "127.0.0.1";
          example = "10.0.0.41";
          description = ''
            Address HTTP monitoring binds. Loopback by default: `/connz`, `/accountz` and `/jsz`
            name every client, account and stream. With `openFirewall`, its port is opened only
            when this is not a 127/8 address.
          '';
        };

        clusterPort = mkOption {
          type = types.nullOr types.port;
          default = null;
          example = 6222;
          description = "Route port of a hub member (`cluster.listen`); `null` for a leaf.";
        };

        leafnodePort = mkOption {
          type = types.nullOr types.port;
          default = null;
          example = 7422;
          description = "Leafnode listener port of a hub member (`leafnodes.listen`); `null` for a leaf.";
        };

        dataDir = mkOption {
          type = types.str;
          default = "/var/lib/cim-nats/${name}";
          description = ''
            JetStream store directory (`jetstream.store_dir`). Under /var/lib it is a systemd
            StateDirectory; elsewhere a tmpfiles rule creates it.
          '';
        };

        leafnodeCredentialsFile = mkOption {
          # A string, not a path: a path would be copied into the world-readable Nix store.
          type = types.nullOr types.str;
          default = null;
          example = "/var/lib/cim-nats/secrets/leaf.creds";
          description = ''
            Leaf-link `.creds` file on the target (root-owned, 0600). Before start root copies it
            into `runtimeDir` as `leafnode.creds` (0400, the service user's), which every leafnode
            remote uses as `credentials`. Never copied into the Nix store; a changed file restarts
            the unit.
          '';
        };

        systemLinkCredentialsFile = mkOption {
          # A string, not a path: a path would be copied into the world-readable Nix store.
          type = types.nullOr types.str;
          default = null;
          example = "/var/lib/cim-nats/secrets/leaf-nats-1-sys.creds";
          description = ''
            System-link `.creds` file on the target (root-owned, 0600): before start root copies it
            into `runtimeDir` as `system-link.creds` (0400, the service user's), which the leafnode
            remote bound to the system account (account JWT updates, resolver sync) uses. Never
            copied into the Nix store; a changed file restarts the unit.
          '';
        };

        tls = mkOption {
          type = types.nullOr (
            types.submodule {
              options = {
                # Strings, not paths: a path would be copied into the world-readable Nix store.
                certFile = mkOption {
                  type = types.str;
                  example = "/var/lib/cim-nats/secrets/nats-1-hub/cert.pem";
                  description = "The server's certificate (PEM) on the host.";
                };
                keyFile = mkOption {
                  type = types.str;
                  example = "/var/lib/cim-nats/secrets/nats-1-hub/key.pem";
                  description = "Its private key (PEM, root-owned 0600) on the host.";
                };
                caFile = mkOption {
                  type = types.str;
                  example = "/var/lib/cim-nats/secrets/nats-1-hub/ca.pem";
                  description = "The CA every peer's certificate chains to (PEM) on the host.";
                };
              };
            }
          );
          default = null;
          description = ''
            TLS files on the host (outside the Nix store). Before start and on every reload, root
            copies them into `runtimeDir` as `cert.pem`, `key.pem` and `ca.pem` (0400, the service
            user's), where the `tls` blocks of `settings` name them; a changed file reloads the
            unit (SIGHUP: nats-server re-reads them), it does not restart it.
          '';
        };

        clusterAuthFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "/var/lib/cim-nats/secrets/nats-1-hub/cluster-auth.conf";
          description = ''
            A hub member's route authorization on the host (root-owned 0600): `authorization { user,
            password }` and the routes with those credentials, in nats-server syntax. Copied into
            `runtimeDir` as `cluster-auth.conf`, which `settings.cluster.include` names (relative to
            the config there). A changed file reloads the unit.
          '';
        };

        runtimeDir = mkOption {
          type = types.str;
          readOnly = true;
          default = runtimeDir name;
          defaultText = literalExpression ''"/run/cim-nats-''${name}"'';
          description = "Where the unit's nats-server reads its config and secret files (a systemd RuntimeDirectory, 0700).";
        };

        openFirewall = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Open this instance's listeners in the firewall, each only as far as it must be: the
            client port to the network, monitoring only when `monitorHost` is not loopback, the
            route port only from `routePeers`, the leafnode port only from `leafnodePeers`.
          '';
        };

        routePeers = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [
            "10.0.0.42"
            "10.0.0.43"
          ];
          description = "IPv4 addresses allowed to the route port: the other hub members. Empty: closed.";
        };

        leafnodePeers = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [
            "10.0.0.41"
            "172.16.0.2"
          ];
          description = "IPv4 addresses allowed to the leafnode port: the leaf hosts. Empty: closed.";
        };

        validateConfig = mkOption {
          type = types.bool;
          default = true;
          description = "Check the generated config with `nats-server -t` at build time.";
        };

        restartSettings = mkOption {
          type = types.nullOr format.type;
          default = null;
          example = literalExpression ''{ server_name = "nats-1"; listen = "10.0.0.41:4222"; jetstream.domain = "nats-1"; }'';
          description = ''
            The part of `settings` nats-server cannot apply on SIGHUP (`restartOnlyView` in
            components/render/reload-rules.ts). A change to it restarts the unit; any other change
            to `settings` reloads it (SIGHUP, no dropped connection). `null`: every change restarts.
          '';
        };

        settings = mkOption {
          type = format.type;
          default = { };
          example = literalExpression ''
            {
              jetstream = { domain = "nats-1"; max_mem = "256M"; max_file = "10G"; };
              leafnodes.remotes = [ { urls = [ "nats-leaf://10.0.0.41:7422" ]; } ];
            }
          '';
          description = ''
            nats-server configuration as data (JSON), keys spelled as nats-server spells them; the
            typed options above are merged into it with default priority. The escape hatch for
            anything without an option. See <https://docs.nats.io/running-a-nats-service/configuration>.
          '';
        };
      };

      config.settings = mkMerge [
        {
          server_name = mkDefault config.serverName;
          listen = mkDefault "${config.host}:${toString config.port}";
          http = mkDefault "${config.monitorHost}:${toString config.monitorPort}";
          jetstream.store_dir = mkDefault config.dataDir;
        }
        (mkIf (config.clusterPort != null) {
          cluster.listen = mkDefault "${config.host}:${toString config.clusterPort}";
        })
        (mkIf (config.leafnodePort != null) {
          leafnodes.listen = mkDefault "${config.host}:${toString config.leafnodePort}";
        })
      ];
    };
in
{
  options.services.cim-nats = {
    enable = mkEnableOption "the cim-nats nats-server instances";

    package = mkOption {
      type = types.package;
      # Pinned to the version cim-nats is tested with (nats-server.nix), not whatever the
      # nixpkgs of the day carries; the deploy checks every server runs that version.
      default = pkgs.callPackage ./nats-server.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nats-server.nix { } # nats-server 2.15.2";
      description = "nats-server package every instance runs unless it sets its own.";
    };

    user = mkOption {
      type = types.str;
      default = "cim-nats";
      description = "User every instance runs as.";
    };

    secretFileHashes = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        "/var/lib/cim-nats/secrets/nats-1/key.pem" = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
      };
      description = ''
        SHA-256 (hex) of each secret file by its path on the host, written by the deploy. The
        units' reload and restart triggers hash the secret files they read; a system built where
        the files are not (the deploying machine, a build host) takes the hashes from here, so a
        rotated secret still reloads or restarts its unit. Paths not listed are hashed where the
        system is evaluated, when they exist there.
      '';
    };

    group = mkOption {
      type = types.str;
      default = "cim-nats";
      description = "Group every instance runs as.";
    };

    instances = mkOption {
      type = types.attrsOf (types.submodule instanceModule);
      default = { };
      example = literalExpression ''
        {
          leaf = { serverName = "nats-1"; host = "10.0.0.41"; openFirewall = true; };
          hub = { serverName = "nats-1-hub"; host = "10.0.0.41"; port = 4223; monitorPort = 8223;
                  clusterPort = 6222; leafnodePort = 7422; openFirewall = true;
                  routePeers = [ "10.0.0.42" "10.0.0.43" ]; leafnodePeers = [ "10.0.0.41" "10.0.0.42" "10.0.0.43" ]; };
        }
      '';
      description = "nats-server instances on this host, each its own systemd unit `cim-nats-<name>`.";
    };
  };

  config = mkIf cfg.enable {
    assertions =
      let
        ports = concatMap listenerPorts (attrValues enabledInstances);
      in
      [
        {
          assertion = ports == unique ports;
          message = "services.cim-nats.instances: two listeners share a port (${toString ports}); give each instance its own ports.";
        }
      ]
      ++ mapAttrsToList (name: inst: {
        assertion = hasPrefix "/" inst.dataDir;
        message = "services.cim-nats.instances.${name}.dataDir is '${inst.dataDir}'; give an absolute path (e.g. /var/lib/cim-nats/${inst.serverName}).";
      }) enabledInstances
      ++ [
        {
          assertion = allPeerRules == [ ] || config.networking.nftables.enable;
          message = "services.cim-nats: route and leafnode ports are opened only to their peers, with nftables rules (networking.firewall.extraInputRules); this host sets networking.nftables.enable = false: enable it, or open the ports yourself and set openFirewall = false.";
        }
      ]
      ++ mapAttrsToList (name: inst: {
        assertion = inst.leafnodeCredentialsFile == null || (inst.settings.leafnodes.remotes or [ ]) != [ ];
        message = "services.cim-nats.instances.${name}.leafnodeCredentialsFile is set but settings.leafnodes.remotes is empty; only a leaf uses leaf-link credentials.";
      }) enabledInstances
      ++ concatMap (
        name:
        mapAttrsToList (file: source: {
          assertion = hasPrefix "/" source && !(hasPrefix builtins.storeDir source);
          message = "services.cim-nats.instances.${name}: the source of ${file} is '${source}'; give an absolute path outside the Nix store (where every user could read it), e.g. /var/lib/cim-nats/secrets/.";
        }) (runtimeSecretFiles enabledInstances.${name})
      ) (builtins.attrNames enabledInstances);

    systemd.services = mapAttrs' (
      name: inst:
      nameValuePair (unitName name) {
        description = "cim-nats ${name} (nats-server ${inst.serverName})";
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];

        # Reload for what SIGHUP applies, restart for the rest (see the top of this file). Not
        # `reloadIfChanged`: that would reload for restart-only changes too.
        reloadTriggers = [ (configFile name inst) ] ++ secretTriggers inst;
        restartTriggers = [ (restartOnly name inst) ] ++ credentialTriggers inst;

        serviceConfig = mkMerge [
          (mkIf (hasPrefix "/var/lib/" inst.dataDir) {
            StateDirectory = removePrefix "/var/lib/" inst.dataDir;
            StateDirectoryMode = "0750";
          })
          {
            Type = "simple";
            RuntimeDirectory = unitName name;
            RuntimeDirectoryMode = "0700";
            ExecStartPre = [ "+${installRuntimeFiles name inst}" ];
            ExecStart = "${inst.package}/bin/nats-server -c ${runtimeConfig name}";
            # The new config and files first (as root), then SIGHUP: nats-server re-reads them.
            ExecReload = [
              "+${installRuntimeFiles name inst}"
              "${pkgs.coreutils}/bin/kill -HUP $MAINPID"
            ];
            # Lame duck: stop accepting clients, move the existing ones away over
            # lame_duck_duration, then exit; only that main process gets the signal ("mixed"),
            # the rest of the cgroup is killed once it is gone.
            KillSignal = "SIGUSR2";
            KillMode = "mixed";
            # nats-server may end by the signal itself rather than exit 0.
            SuccessExitStatus = [
              0
              "SIGUSR2"
            ];
            # Longer than the lame duck, or systemd would SIGKILL a server still handing clients over.
            TimeoutStopSec = toString (lameDuckSeconds inst + 30);
            Restart = "on-failure";
            RestartSec = "2s";

            User = cfg.user;
            Group = cfg.group;

            # Hardening, as nixpkgs' services.nats.
            CapabilityBoundingSet = "";
            # JetStream holds two descriptors per stream, plus one per client connection.
            LimitNOFILE = 800000;
            LockPersonality = true;
            MemoryDenyWriteExecute = true;
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
            # The whole file system is read-only except the store dir.
            ProtectSystem = "strict";
            ReadWritePaths = [ inst.dataDir ];
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
            # Store files readable by the service user only.
            UMask = "0077";
          }
        ];
      }
    ) enabledInstances;

    environment.etc = mapAttrs' (
      name: inst: nameValuePair "cim-nats/${name}.conf" { source = configFile name inst; }
    ) enabledInstances;

    systemd.tmpfiles.rules = concatMap (
      inst: optional (!hasPrefix "/var/lib/" inst.dataDir) "d ${inst.dataDir} 0750 ${cfg.user} ${cfg.group} - -"
    ) (attrValues enabledInstances);

    networking.firewall.allowedTCPPorts = concatMap openPorts (attrValues enabledInstances);
    networking.firewall.extraInputRules = concatStringsSep "\n" allPeerRules;
    # extraInputRules take effect with the nftables firewall only.
    networking.nftables.enable = mkIf (allPeerRules != [ ]) (mkDefault true);

    users.users = mkIf (cfg.user == "cim-nats") {
      cim-nats = {
        description = "cim-nats nats-server user";
        isSystemUser = true;
        group = cfg.group;
      };
    };

    users.groups = mkIf (cfg.group == "cim-nats") { cim-nats = { }; };
  };
}
