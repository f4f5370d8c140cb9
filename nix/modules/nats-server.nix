# nats-server pinned to v2.15.2, the build every behaviour of cim-nats was measured on (the
# tests' nats-server is the same module version, built by `npm run setup`). The default of
# `services.cim-nats.package`; the deploy's switch checks that every server reports this version
# after the switch (components/deploy/scripts.ts, NATS_SERVER_VERSION).
#
# Source: the Go module proxy's zip of github.com/nats-io/nats-server/v2@v2.15.2, the same bytes
# `go` downloaded for the tests. `hash` is the sha256 of that zip file (sha256sum of
# $GOMODCACHE/cache/download/github.com/nats-io/nats-server/v2/@v/v2.15.2.zip); the zip's own
# `h1:yLsgt2kslgymvxvjFq1WGWck5hkat2YYfbXvQ145tzU=` matches sum.golang.org's record.
# `vendorHash` is the NAR sha256 of the `vendor` dir `go mod vendor` (Go 1.26) makes from that
# source and the module cache: what buildGoModule's go-modules derivation outputs. Both were
# computed offline; `docs/prod.md` ("nats-server 2.15.2") says how to redo it for a new version.
# A wrong hash fails the build with "hash mismatch", never a silently different server.
{ lib, pkgs }:

let
  version = "2.15.2";
  # go.mod says `go 1.26.0`; buildGoModule runs with GOTOOLCHAIN=local, so it needs a Go 1.26.
  go =
    if lib.versionAtLeast pkgs.go.version "1.26" then
      pkgs.go
    else
      pkgs.go_1_26 or (throw "cim-nats: nats-server ${version} needs Go >= 1.26 (its go.mod says go 1.26.0) and the pinned nixpkgs has neither go >= 1.26 nor go_1_26: pin a newer nixpkgs (cim-nats:proxmox.nixos.nixpkgs)");
in
(pkgs.buildGoModule.override { inherit go; }) {
  pname = "nats-server";
  inherit version;

  src = pkgs.fetchurl {
    url = "https://proxy.golang.org/github.com/nats-io/nats-server/v2/@v/v${version}.zip";
    hash = "sha256-zTKsPoFCNNK5k2itHu9xw8djNKVZV4C1wyFm7uSaq6Y=";
  };
  # The zip holds one tree, github.com/nats-io/nats-server/v2@v<version>/.
  nativeBuildInputs = [ pkgs.unzip ];
  sourceRoot = "github.com/nats-io/nats-server/v2@v${version}";

  vendorHash = "sha256-qzGUFmsKDac2Yu8jnVhfbj7vzJaur13Th0bydzRq+sc=";

  subPackages = [ "." ];
  # Upstream's tests start thousands of servers (hours); the deploy checks the version it runs.
  doCheck = false;

  meta = {
    description = "NATS server, pinned for cim-nats";
    homepage = "https://github.com/nats-io/nats-server";
    license = lib.licenses.asl20;
    mainProgram = "nats-server";
  };
}
