# Evaluates a rendered host file and the cim-nats module it imports with nixpkgs' real module
# system (`lib.evalModules` from the nixpkgs lib snapshot), beside declarations of just the
# NixOS options the module sets, typed as nixpkgs types them (simplified where only the merge
# matters). Full nixpkgs is too large to bring here; the real lib gives the real option types,
# priorities (mkDefault, mkForce), submodules and assertion handling.
#
# Stub packages render as strings that carry what the tests inspect: `formats.json.generate`
# embeds the generated JSON between '#' marks, `runCommand` embeds its script between '[' ']',
# `writeText` and `writeShellScript` their text between '<<<' and '>>>'.
{
  lib,
  hostFile,
  extraModules ? [ ],
  # configuration.nix imports `modulesPath + "/virtualisation/proxmox-lxc.nix"`: a model of nixpkgs'
  # LXC profile there (hostName, sshd, the service override; stub-modules/virtualisation/).
  modulesPath ? ./stub-modules,
}:

let
  inherit (lib) mkOption types;

  # nixpkgs' own (nixos/lib/systemd-unit-options.nix `unitOption`): one value, or lists concatenated.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge =
      loc: defs:
      let
        defs' = lib.filterOverrides defs;
      in
      if builtins.isList (builtins.head defs').value then
        lib.concatMap (
          def:
          if builtins.typeOf def.value == "list" then
            def.value
          else
            throw "The definitions for systemd unit options should be either all lists, representing repeatable options, or all non-lists, but for the option ${lib.showOption loc}, the definitions are a mix of list and non-list ${lib.options.showDefs defs'}"
        ) defs'
      else
        lib.mergeEqualOption loc defs';
  };

  # nixpkgs' own check of `serviceConfig` (nixos/lib/systemd-lib.nix checkUnitConfig,
  # assertValueOneOf; systemd-unit-options.nix checkService): a Type or Restart systemd does not
  # know fails the evaluation, with the reason traced.
  assertValueOneOf =
    name: values: group: attr:
    lib.optional (
      attr ? ${name} && !lib.elem attr.${name} values
    ) "Systemd ${group} field `${name}' cannot have value `${toString attr.${name}}'.";
  checkUnitConfig =
    group: checks: attrs:
    let
      defs = lib.mapAttrs (
        _: v:
        if v._type or "" == "override" then
          v.content
        else if v._type or "" == "if" then
          v.content
        else
          v
      ) attrs;
      errors = lib.concatMap (c: c group defs) checks;
    in
    if errors == [ ] then true else builtins.trace (lib.concatStringsSep "\n" errors) false;
  checkService = checkUnitConfig "Service" [
    (assertValueOneOf "Type" [
      "exec"
      "simple"
      "forking"
      "oneshot"
      "dbus"
      "notify"
      "notify-reload"
      "idle"
    ])
    (assertValueOneOf "Restart" [
      "no"
      "on-success"
      "on-failure"
      "on-abnormal"
      "on-abort"
      "on-watchdog"
      "always"
    ])
  ];

  json = types.attrsOf types.anything;

  pkgs = {
    nats-server = {
      outPath = "/nix/store/stub-nats-server";
      type = "derivation";
      name = "nats-server";
    };
    coreutils = {
      outPath = "/nix/store/stub-coreutils";
      type = "derivation";
      name = "coreutils";
    };
    formats.json =
      { }:
      {
        type = json;
        generate = name: value: "/nix/store/stub-${name}#${builtins.toJSON value}#";
      };
    runCommand =
      name: env: script:
      "/nix/store/stub-${name}[${script}]";
    # The text between '<<<' and '>>>' (a config, a script), so the tests can run it for real.
    writeText = name: text: "/nix/store/stub-${name}<<<${text}>>>";
    writeShellScript = name: text: "/nix/store/stub-${name}<<<${text}>>>";
    # A file at `destination` inside a package (what systemd.packages ships): kept as data.
    writeTextFile =
      {
        name,
        destination,
        text,
      }:
      {
        inherit name destination text;
      };
    openssl = "/nix/store/stub-openssl";
    # What nix/modules/nats-server.nix builds with: the stub derivation carries the arguments.
    callPackage =
      fn: overrides:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) (pkgs // { inherit lib pkgs; }) // overrides);
    go = {
      version = "1.25.9";
      name = "go-1.25.9";
    };
    go_1_26 = {
      version = "1.26.2";
      name = "go-1.26.2";
    };
    unzip = "/nix/store/stub-unzip";
    nodejs_22 = {
      outPath = "/nix/store/stub-nodejs-22";
      type = "derivation";
      name = "nodejs-22";
    };
    fetchurl = args: args // { fetcher = "fetchurl"; };
    buildGoModule = {
      override =
        { go }:
        args:
        {
          type = "derivation";
          name = "${args.pname}-${args.version}";
          outPath = "/nix/store/stub-${args.pname}-${args.version}";
          buildGoModuleArgs = args // {
            go = go.name;
          };
        };
    };
  };

  nixosOptions = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      # nixos/modules/tasks/network-interfaces.nix: a host name, or "" to take the kernel's.
      networking.hostName = mkOption { type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$"; };
      networking.useDHCP = mkOption {
        type = types.bool;
        default = true;
      };
      networking.useHostResolvConf = mkOption {
        type = types.bool;
        default = false;
      };
      networking.useNetworkd = mkOption {
        type = types.bool;
        default = false;
      };
      # nixpkgs' declarations (types as in nixos/modules) of what the generated files set.
      boot.isContainer = mkOption {
        type = types.bool;
        default = false;
      };
      system.stateVersion = mkOption { type = types.str; };
      nix.enable = mkOption {
        type = types.bool;
        default = true;
      };
      # nixos/modules/config/nix-channel.nix
      nix.channel.enable = mkOption {
        type = types.bool;
        default = true;
      };
      nix.nixPath = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      # nixos/modules/services/misc/nix-gc.nix
      nix.gc = {
        automatic = mkOption {
          type = types.bool;
          default = false;
        };
        dates = mkOption {
          type = types.singleLineStr;
          default = "03:15";
        };
        randomizedDelaySec = mkOption {
          type = types.singleLineStr;
          default = "0";
        };
        persistent = mkOption {
          type = types.bool;
          default = true;
        };
        options = mkOption {
          type = types.singleLineStr;
          default = "";
        };
      };
      # nixos/modules/services/networking/ssh/sshd.nix
      services.openssh = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
        ports = mkOption {
          type = types.listOf types.port;
          default = [ 22 ];
        };
        authorizedKeysFiles = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        startWhenNeeded = mkOption {
          type = types.bool;
          default = false;
        };
      };
      networking.firewall.allowedTCPPorts = mkOption {
        type = types.listOf types.port;
        default = [ ];
      };
      # nixpkgs (firewall-nftables.nix): appended to the input-allow chain; nftables firewall only.
      networking.firewall.extraInputRules = mkOption {
        type = types.lines;
        default = "";
      };
      networking.nftables.enable = mkOption {
        type = types.bool;
        default = false;
      };
      environment.etc = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options.source = mkOption { type = types.str; };
          }
        );
      };
      # nixos/modules/system/boot/systemd.nix: packages whose unit files and drop-ins the system ships.
      systemd.packages = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      systemd.tmpfiles.rules = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      systemd.services = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = {
              description = mkOption {
                type = types.singleLineStr;
                default = "";
              };
              environment = mkOption {
                type = types.attrsOf (types.nullOr types.str);
                default = { };
              };
              wantedBy = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              wants = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              after = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              serviceConfig = mkOption {
                type = types.addCheck (types.attrsOf unitOption) checkService;
                default = { };
              };
              # nixpkgs: X-Restart-Triggers / X-Reload-Triggers in the unit; switch-to-configuration
              # restarts for the first, reloads for the second.
              restartTriggers = mkOption {
                type = types.listOf types.unspecified;
                default = [ ];
              };
              reloadTriggers = mkOption {
                type = types.listOf unitOption;
                default = [ ];
              };
              reloadIfChanged = mkOption {
                type = types.bool;
                default = false;
              };
            };
          }
        );
      };
      users.users = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = {
              description = mkOption {
                type = types.str;
                default = "";
              };
              isSystemUser = mkOption {
                type = types.bool;
                default = false;
              };
              group = mkOption {
                type = types.str;
                default = "";
              };
              openssh.authorizedKeys.keys = mkOption {
                type = types.listOf types.singleLineStr;
                default = [ ];
              };
            };
          }
        );
      };
      users.groups = mkOption {
        default = { };
        type = types.attrsOf (types.submodule { });
      };
    };
  };

  evaluated = lib.evalModules {
    # As NixOS passes it: `imports` may use it, so it cannot be a _module.args value.
    specialArgs = { inherit modulesPath; };
    modules = [
      nixosOptions
      hostFile
      { _module.args.pkgs = pkgs; }
    ]
    ++ extraModules;
  };
  config = evaluated.config;
in
{
  inherit (config)
    systemd
    networking
    users
    environment
    nix
    boot
    ;
  services.cim-nats = config.services.cim-nats;
  services.openssh = config.services.openssh;
  # The stub derivation's build arguments (JSON would show a derivation as its path only).
  natsServerBuild = config.services.cim-nats.package.buildGoModuleArgs or null;
  services.cim-cid-service = config.services.cim-cid-service or null;
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
}
