# Evaluates a rendered cid-service.nix and the cim-cid-service module it imports with nixpkgs'
# real `lib.evalModules`, beside just the NixOS options the module sets (typed as nixpkgs types
# them, simplified where only the merge matters) and stub packages (nodejs_22, coreutils;
# writeShellScript keeps its text between '<<<' and '>>>').
{ lib, hostFile }:

let
  inherit (lib) mkOption types;
  unitOption = types.oneOf [
    types.bool
    types.int
    types.str
    (types.listOf (types.oneOf [ types.int types.str ]))
  ];
  pkgs.nodejs_22 = {
    outPath = "/nix/store/stub-nodejs-22";
    type = "derivation";
    name = "nodejs-22";
  };
  pkgs.coreutils = "/nix/store/stub-coreutils";
  pkgs.writeShellScript = name: text: "/nix/store/stub-${name}<<<${text}>>>";
  nixosOptions.options = {
    assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
    networking.firewall.allowedTCPPorts = mkOption { type = types.listOf types.port; default = [ ]; };
    systemd.services = mkOption {
      default = { };
      type = types.attrsOf (types.submodule {
        options = {
          description = mkOption { type = types.str; };
          wantedBy = mkOption { type = types.listOf types.str; default = [ ]; };
          wants = mkOption { type = types.listOf types.str; default = [ ]; };
          after = mkOption { type = types.listOf types.str; default = [ ]; };
          environment = mkOption { type = types.attrsOf types.str; default = { }; };
          serviceConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
          restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; };
        };
      });
    };
  };
  evaluated = lib.evalModules {
    modules = [ nixosOptions hostFile { _module.args.pkgs = pkgs; } ];
  };
  config = evaluated.config;
in
{
  systemd = config.systemd;
  networking = config.networking;
  failedAssertions = map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
}
