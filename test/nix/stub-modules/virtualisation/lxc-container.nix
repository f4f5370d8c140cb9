# Model of the systemd override nixpkgs' LXC container profile gives every service
# (nixos/modules/virtualisation/lxc-container.nix, after distrobuilder): a `service.d` drop-in,
# `zzz-lxc-service.conf`, sorted after every unit's own settings. Earlier revisions ship it in the
# system (systemd.packages) for every container; later ones install distrobuilder's generator,
# which writes the same drop-in at boot when the container runs without nesting (no /dev/.lxc).
# Modelled as shipped, the case where it always applies; the lines are those for systemd >= 256
# in an unprivileged container (the generator's list). `LoadCredential=` (and `ImportCredential=`)
# empty every service's credentials: a unit that reads its secrets through systemd credentials
# starts without them.
{ pkgs, ... }:
{
  systemd.packages = [
    (pkgs.writeTextFile {
      name = "systemd-lxc-service-overrides";
      destination = "/etc/systemd/system/service.d/zzz-lxc-service.conf";
      text = ''
        [Service]
        ProcSubset=all
        ProtectProc=default
        ProtectControlGroups=no
        ProtectKernelTunables=no
        NoNewPrivileges=no
        LoadCredential=
        PrivateNetwork=no
        ImportCredential=
      '';
    })
  ];
}
