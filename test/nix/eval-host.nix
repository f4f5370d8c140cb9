# Evaluates a rendered host file and the cim-nats module it imports without nixpkgs: a small
# stand-in for the parts of `lib` the module uses and a tiny module evaluator (options with
# types, defaults and priorities; mkIf, mkMerge, mkDefault; attrsOf submodule; the freeform
# JSON `settings`). Not nixpkgs' module system: enough to catch misspelt attributes, wrong
# option types, bad merges and evaluation errors, which `--parse` cannot see.
#
# Stub packages render as strings that carry what the test inspects: `formats.json.generate`
# embeds the generated JSON between '#' marks, `runCommand` embeds its script between '[' ']'.
{ hostFile }:

let
  inherit (builtins)
    all
    attrNames
    concatLists
    concatMap
    elem
    filter
    foldl'
    head
    isAttrs
    isBool
    isInt
    isList
    isString
    length
    listToAttrs
    mapAttrs
    substring
    stringLength
    tail
    throw
    ;

  defaultPriority = 100;
  mkDefaultPriority = 1000;

  types = rec {
    mkType = name: check: { _type = "type"; inherit name check; kind = "scalar"; };
    str = mkType "str" isString;
    bool = mkType "bool" isBool;
    port = mkType "port" (v: isInt v && v >= 0 && v <= 65535);
    package = mkType "package" (v: isAttrs v && v ? outPath);
    nullOr = t: (mkType "null or ${t.name}" (v: v == null || t.check v));
    attrsOf = t: { _type = "type"; name = "attrs of ${t.name}"; kind = "attrsOf"; elem = t; check = isAttrs; };
    submodule = m: { _type = "type"; name = "submodule"; kind = "submodule"; module = m; check = isAttrs; };
    json = { _type = "type"; name = "JSON value"; kind = "freeform"; check = _: true; };
  };

  lib = rec {
    inherit types;
    inherit (builtins) attrValues concatMap;
    mkOption = attrs: attrs // { _type = "option"; };
    mkEnableOption = what: mkOption { type = types.bool; default = false; description = "Whether to enable ${what}."; };
    mkPackageOption = pkgs: name: _: mkOption { type = types.package; default = pkgs.${name}; description = "The ${name} package."; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkDefault = content: { _type = "override"; priority = mkDefaultPriority; inherit content; };
    filterAttrs = pred: set: listToAttrs (concatMap (n: if pred n set.${n} then [ { name = n; value = set.${n}; } ] else [ ]) (attrNames set));
    mapAttrsToList = f: set: map (n: f n set.${n}) (attrNames set);
    nameValuePair = name: value: { inherit name value; };
    "mapAttrs'" = f: set: listToAttrs (mapAttrsToList f set);
    optional = cond: x: if cond then [ x ] else [ ];
    hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;
    removePrefix = prefix: s: if hasPrefix prefix s then substring (stringLength prefix) (stringLength s) s else s;
    unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
  };

  pkgs = {
    nats-server = { outPath = "/nix/store/stub-nats-server"; };
    coreutils = { outPath = "/nix/store/stub-coreutils"; };
    formats.json = { }: {
      type = types.json;
      generate = name: value: "/nix/store/stub-${name}#${builtins.toJSON value}#";
    };
    runCommand = name: env: script:
      assert env.nativeBuildInputs == [ pkgs.nats-server ];
      "/nix/store/stub-${name}[${script}]";
  };

  # A definition with its priority; properties (mkIf, mkMerge, mkDefault) discharged at the top.
  discharge = priority: value:
    if isAttrs value && value ? _type then
      if value._type == "if" then
        (if value.condition then discharge priority value.content else [ ])
      else if value._type == "merge" then
        concatMap (discharge priority) value.contents
      else if value._type == "override" then
        discharge value.priority value.content
      else
        [ { inherit priority value; } ]
    else
      [ { inherit priority value; } ];

  dischargeAll = defs: concatMap (d: discharge d.priority d.value) defs;

  highest = defs:
    let best = foldl' (m: d: if d.priority < m then d.priority else m) 100000 defs;
    in filter (d: d.priority == best) defs;

  # The single value of a scalar, or a conflict error naming the path.
  mergeScalar = path: defs:
    let
      top = highest defs;
      values = lib.unique (map (d: d.value) top);
    in
    if length values == 1 then head values else throw "${path}: conflicting definitions ${builtins.toJSON values}";

  # Freeform data (settings, and the module's own output): attribute sets merge per key,
  # everything else by priority.
  mergeFree = path: defs0:
    let defs = dischargeAll defs0;
    in
    if defs == [ ] then throw "${path}: no definition"
    else if all (d: isAttrs d.value) defs then
      let names = lib.unique (concatMap (d: attrNames d.value) defs);
      in listToAttrs (map (n: {
        name = n;
        value = mergeFree "${path}.${n}" (concatMap (d: if d.value ? ${n} then [ { inherit (d) priority; value = d.value.${n}; } ] else [ ]) defs);
      }) names)
    else if all (d: isList d.value) defs && length (highest defs) > 1 then
      concatLists (map (d: d.value) (highest defs))
    else
      mergeScalar path defs;

  checked = path: type: value:
    if type.check value then value else throw "${path}: ${builtins.toJSON value} is not a ${type.name}";

  evalOption = path: opt: defs0:
    let
      defs = dischargeAll defs0;
      type = opt.type;
    in
    if defs == [ ] then
      (if opt ? default then opt.default else throw "${path}: used but not defined")
    else if type.kind == "attrsOf" then
      let names = lib.unique (concatMap (d: attrNames (checked path type d.value)) defs);
      in listToAttrs (map (n: {
        name = n;
        value = evalOption "${path}.${n}" { type = type.elem; } (concatMap (d: if d.value ? ${n} then [ { inherit (d) priority; value = d.value.${n}; } ] else [ ]) defs);
      }) names)
    else if type.kind == "submodule" then
      evalSubmodule path type.module (map (d: d.value) defs)
    else if type.kind == "freeform" then
      mergeFree path defs
    else
      checked path type (mergeScalar path defs);

  # Options of a declaration tree, each from the definitions found at its path.
  evalTree = path: decls: defs:
    let
      plain = dischargeAll (map (value: { priority = defaultPriority; inherit value; }) defs);
      unknown = filter (n: !(decls ? ${n})) (concatMap (d: if isAttrs d.value then attrNames d.value else [ ]) plain);
    in
    if unknown != [ ] then throw "${path}: no such option '${head unknown}'"
    else mapAttrs (n: decl:
      let sub = concatMap (d: if d.value ? ${n} then [ { inherit (d) priority; value = d.value.${n}; } ] else [ ]) plain;
      in if decl ? _type && decl._type == "option" then evalOption "${path}.${n}" decl sub
         else evalTree "${path}.${n}" decl (map (d: d.value) sub)) decls;

  evalSubmodule = path: module: defs:
    let
      name = lib.removePrefix "services.cim-nats.instances." path;
      m = module { inherit name config; };
      config = evalTree path m.options ([ m.config ] ++ defs);
    in
    config;

  moduleArgs = { inherit lib pkgs config; };
  host = import hostFile moduleArgs;
  cimNats = import (head host.imports) moduleArgs;

  config = {
    networking.hostName = host.networking.hostName;
    services.cim-nats = evalTree "services.cim-nats" cimNats.options.services.cim-nats [ host.services.cim-nats ];
  };

  output = mergeFree "config" [ { priority = defaultPriority; value = cimNats.config; } ];
in
{
  inherit config;
  inherit (output) systemd networking users assertions;
  failedAssertions = map (a: a.message) (filter (a: !a.assertion) output.assertions);
}
