# Stand-in for nixpkgs' nixos/modules/virtualisation/proxmox-lxc.nix (not in the lib snapshot):
# configuration.nix imports it; what it sets is nixpkgs' business, not cim-nats'.
{ ... }:
{ }
