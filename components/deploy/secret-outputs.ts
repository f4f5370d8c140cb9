/**
 * The secret stack outputs: `.creds` per service user and `nats context` JSON per context, both
 * from the security capability. Wrapped in `pulumi.secret` here even if they already are, so a
 * refactor upstream can never turn them into plaintext outputs.
 */
import * as pulumi from "@pulumi/pulumi";

export type SecretStackOutputs = {
  /** User name → `.creds` text. Secret. */
  readonly creds: pulumi.Output<Readonly<Record<string, string>>>;
  /** Context name (each leaf, `hub`) → `nats context` JSON. Secret. */
  readonly natsContexts: pulumi.Output<Readonly<Record<string, string>>>;
};

/**
 * `omitUsers`: users whose creds are not for services, e.g. the leaf-link users (servers hold
 * those; a service with them could impersonate a leaf).
 */
export function secretStackOutputs(
  userCreds: pulumi.Input<Readonly<Record<string, string>>>,
  natsContexts: pulumi.Input<Readonly<Record<string, string>>>,
  omitUsers: readonly string[] = [],
): SecretStackOutputs {
  return {
    creds: pulumi.secret(
      pulumi.output(userCreds).apply((all) => Object.fromEntries(Object.entries(all).filter(([user]) => !omitUsers.includes(user)))),
    ),
    natsContexts: pulumi.secret(pulumi.output(natsContexts)),
  };
}
