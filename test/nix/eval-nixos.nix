# Evaluates a rendered host file and the cim-nats module it imports with nixpkgs' real module
# system (`lib.evalModules` from the nixpkgs lib snapshot), beside declarations of just the
# NixOS options the module sets, typed as nixpkgs types them (simplified where only the merge
# matters). Full nixpkgs is too large to bring here; the real lib gives the real option types,
# priorities (mkDefault, mkForce), submodules and assertion handling.
#
# Stub packages render as strings that carry what the tests inspect: `formats.json.generate`
# embeds the generated JSON between '#' marks, `runCommand` embeds its script between '[' ']'.
{
  lib,
  hostFile,
  extraModules ? [ ],
}:

let
  inherit (lib) mkOption types;

  # systemd's unit option values (nixpkgs: utils.systemdUtils.unitOptions.unitOption).
  unitOption = types.oneOf [
    types.bool
    types.int
    types.str
    (types.listOf (types.oneOf [
      types.int
      types.str
    ]))
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
      assert env.nativeBuildInputs == [ pkgs.nats-server ];
      "/nix/store/stub-${name}[${script}]";
  };

  nixosOptions = {
    options = {
      assertions = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      networking.hostName = mkOption { type = types.str; };
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
      systemd.tmpfiles.rules = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      systemd.services = mkOption {
        default = { };
        type = types.attrsOf (
          types.submodule {
            options = {
              description = mkOption { type = types.str; };
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
                type = types.attrsOf unitOption;
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
    ;
  services.cim-nats = config.services.cim-nats;
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
}
