# Model of nixpkgs' nixos/modules/virtualisation/proxmox-lxc.nix for the evaluation harness (the
# real module is not in the lib snapshot): what it sets that touches cim-nats, under nixpkgs'
# option names and with nixpkgs' priorities, written from the module's text (docs/prod.md, "The
# LXC profile"). Not modelled: the image tarball, the console, the ping wrapper, the debugfs mount.
{
  config,
  lib,
  ...
}:

let
  inherit (lib)
    mkDefault
    mkForce
    mkIf
    mkOption
    types
    ;
  cfg = config.proxmoxLXC;
in
{
  # The container profile's systemd service override (lxc-container.nix), modelled beside it.
  imports = [ ./lxc-container.nix ];

  options.proxmoxLXC = {
    privileged = mkOption {
      type = types.bool;
      default = false;
    };
    manageNetwork = mkOption {
      type = types.bool;
      default = false;
    };
    manageHostName = mkOption {
      type = types.bool;
      default = false;
    };
  };

  config = {
    boot.isContainer = true;
    # Proxmox configures the network (systemd-networkd takes it) and writes /etc/hostname; the
    # module empties the NixOS host name unless the configuration manages it.
    networking = mkIf (!cfg.manageNetwork) {
      useDHCP = false;
      useHostResolvConf = false;
      useNetworkd = true;
      hostName = mkIf (!cfg.manageHostName) (mkForce "");
    };
    # sshd on, started per connection, unless the configuration says otherwise.
    services.openssh = {
      enable = mkDefault true;
      startWhenNeeded = mkDefault true;
    };
  };
}
