/**
 * `security.identities` at the edge: where the program gets the keys a site already has — an nsc
 * store read now (nsc-store.ts), or the secret `cim-nats:identitySeeds` (a JSON object, as Pulumi
 * hands a `--path` secret to the program) — checked against the spec (provided-identities.ts).
 * Undefined when every key is generated. Throws ConfigError naming the field and the fix.
 */
import { ConfigError } from "../config/errors";
import { readNscStore } from "./nsc-store";
import { generatedIdentities, identitiesFromConfig, identitiesFromNsc, type ProvidedIdentities } from "./provided-identities";
import { IdentitySource, type SecuritySpec } from "./types";

/** `seedsConfig`: the raw value of `cim-nats:identitySeeds` (decrypted), or undefined when unset. */
export function loadProvidedIdentities(spec: SecuritySpec, seedsConfig: () => string | undefined, readStore = readNscStore): ProvidedIdentities | undefined {
  const raw = seedsConfig();
  if (spec.identities.source !== IdentitySource.Config && raw !== undefined) {
    throw new ConfigError([
      {
        propertyPath: "identitySeeds",
        reason: `is set but security.identities.source is ${spec.identities.source}: remove it (\`pulumi config rm cim-nats:identitySeeds\`), or set source: config to sign with those keys`,
      },
    ]);
  }
  switch (spec.identities.source) {
    case IdentitySource.Generated:
      return Object.keys(spec.identities.signingKeys).length > 0 ? generatedIdentities(spec) : undefined;
    case IdentitySource.Nsc:
      return identitiesFromNsc(spec, readStore(spec.identities.dir!, spec.operator, spec.identities.keysDir));
    case IdentitySource.Config: {
      let seeds: unknown = undefined;
      if (raw !== undefined) {
        try {
          seeds = JSON.parse(raw);
        } catch {
          throw new ConfigError([{ propertyPath: "identitySeeds", reason: "is not an object { operator, accounts: { NAME: seed } }: set each with `pulumi config set --secret --path 'cim-nats:identitySeeds.operator'` (the seed on stdin)" }]);
        }
      }
      return identitiesFromConfig(spec, seeds);
    }
    default: {
      const never: never = spec.identities.source;
      throw new Error(`unknown identity source ${String(never)}`);
    }
  }
}
