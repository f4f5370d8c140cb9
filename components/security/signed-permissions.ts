/**
 * `SignedPermissions`: the record of what a user's signing key signs. Its own resource, apart
 * from the key, so that a preview can tell what happens: a widening is an update of this record
 * (same id, so the key and every JWT listing it stay known and unchanged), a narrowing replaces
 * the record, and the key — whose `rotation` input is this record's id — is replaced with it:
 * every creds file signed with the old key (the earlier, wider permissions) is refused, and its
 * live connections closed, the moment servers get the account JWT listing the new key.
 *
 * (Kept inside the key, a widening updated the key, and a dynamic provider's update leaves all
 * outputs unknown in a preview: the account JWT then previewed an update the up never made.)
 *
 * The provider is serialized as a closure (DESIGN.md, pulumi/pulumi#10480): its methods capture
 * nothing from this module but the pure function of permissions.ts, and `require` what they need.
 */
import * as pulumi from "@pulumi/pulumi";
import { type Permissions, permissionsNarrowed } from "./permissions";

export { permissionsNarrowed, type Permissions };

export type SignedPermissionsInputs = { readonly signs: Permissions };
export type SignedPermissionsOutputs = { readonly signs: Permissions };

/** CRUD of the record, callable directly (tests) and through Pulumi (serialized). */
export const signedPermissionsProvider: pulumi.dynamic.ResourceProvider<SignedPermissionsInputs, SignedPermissionsOutputs> = {
  async create(inputs) {
    // A fresh id per record: it is the signing key's rotation input.
    return { id: `signs:${require("node:crypto").randomUUID()}`, outs: { signs: inputs.signs } };
  },

  async diff(_id, olds, news) {
    if (JSON.stringify(olds.signs ?? null) === JSON.stringify(news.signs ?? null)) return { changes: false };
    return permissionsNarrowed(olds.signs ?? {}, news.signs) ? { changes: true, replaces: ["signs"] } : { changes: true };
  },

  async update(_id, _olds, news) {
    // Wider: recorded, so that a later narrowing is judged against what old creds may do.
    return { outs: { signs: news.signs } };
  },

  async read(id, props) {
    return { id, props };
  },

  async delete() {},
};

/** What one signing key signs; `id` rotates the key (NKey `rotation`) when the permissions narrow. */
export class SignedPermissions extends pulumi.dynamic.Resource {
  declare public readonly signs: pulumi.Output<Permissions>;

  constructor(name: string, args: { readonly signs: pulumi.Input<Permissions> }, opts?: pulumi.CustomResourceOptions) {
    super(signedPermissionsProvider, name, { signs: args.signs }, opts, "cim-nats", "SignedPermissions");
  }
}
