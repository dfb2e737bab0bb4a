// AsaPassword: the ASA's password *in AD*, as a step of its own. KerberosRollout creates the
// account with `deferPasswordSet`, binds the credential on every Exchange server, and only then
// lets this resource set AD's password — RollAlternateServiceAccountPassword.ps1's order. So a
// rotation reaches every server first (they keep the previous credential too), and when one server
// fails, `pulumi up` stops before this step: AD keeps the password every server still holds.
//
// Delete changes nothing in AD: a password cannot be "unset", and the account's own delete (after
// this one, on destroy) removes it.
import * as pulumi from "@pulumi/pulumi";
import { dynamicResourceUrn, stackInput } from "../owner";
import { InvalidInputError, NotFoundError } from "../errors";
import { LdapOverride } from "../settings";
import { readAsaPasswordState, setAsaPassword } from "./asa-computer-account";
import { CheckFailures, ResourceImpl, thinProvider, checkInputs } from "./dynamic";
import { ldapOverrideInput } from "../overrides";

export interface AsaPasswordArgs {
  /** The ASA's objectSid (AsaComputerAccount's `sid` output): stable across renames and moves. */
  accountSid: pulumi.Input<string>;
  /** The password to set (AsaComputerAccount's `password` output, a secret). */
  password: pulumi.Input<string>;
  ldap?: pulumi.Input<LdapOverride>;
}

interface Inputs {
  accountSid: string;
  password: string;
  ldap?: LdapOverride;
}

export interface AsaPasswordOutputs extends Inputs {
  dn: string;
  /** pwdLastSet as read now (ISO 8601). */
  passwordLastSet: string;
  /** pwdLastSet right after we set it: a difference means someone else reset the password. */
  passwordSetByUs: string;
  keyVersion: number;
  /** msDS-KeyVersionNumber right after we set it (absent in older state): see `resetByHand`. */
  keyVersionSetByUs?: number;
  drift: string[];
}

const SID = /^S-1-5-21-\d+-\d+-\d+-\d+$/;

function validate(news: Record<string, unknown>, failures?: CheckFailures): Inputs {
  const f = failures ?? new CheckFailures();
  const out: Partial<Inputs> = {};
  f.guard("accountSid", () => {
    if (typeof news.accountSid !== "string" || !SID.test(news.accountSid)) {
      throw new InvalidInputError("accountSid", `${JSON.stringify(news.accountSid)} is not a domain account SID`, "pass the sid output of the AsaComputerAccount", { code: "NOT_A_SID" });
    }
    out.accountSid = news.accountSid;
  });
  f.guard("password", () => {
    // Never echo the value.
    if (typeof news.password !== "string" || news.password === "") {
      throw new InvalidInputError("password", "is empty", "pass the password output of the AsaComputerAccount", { code: "VALUE_EMPTY" });
    }
    out.password = news.password;
  });
  f.guard("ldap", () => (out.ldap = ldapOverrideInput("ldap", news.ldap)));
  if (!failures) f.throwFirst();
  return out as Inputs;
}

/**
 * Whether AD's password was set by someone else since we set it. AD changes the key version at every
 * password set; pwdLastSet alone also moves when an admin restarts the password's age without
 * setting it (pwdLastSet 0, then -1): that keeps the password every server holds, and only restarts
 * its age (asa-password-age.ts).
 */
export function resetByHand(p: Partial<Pick<AsaPasswordOutputs, "passwordLastSet" | "passwordSetByUs" | "keyVersion" | "keyVersionSetByUs">>): boolean {
  if (p.passwordLastSet === p.passwordSetByUs) return false;
  return p.keyVersionSetByUs === undefined || p.keyVersion !== p.keyVersionSetByUs;
}

/** What a refresh compares: ours vs. what AD has (a reset by someone else counts as a change). */
export function asaPasswordDiff(olds: Partial<AsaPasswordOutputs>, news: Inputs): pulumi.dynamic.DiffResult {
  const replaces = olds.accountSid !== news.accountSid ? ["accountSid"] : [];
  const changes = olds.password !== news.password || resetByHand(olds);
  return { changes: changes || replaces.length > 0, replaces, deleteBeforeReplace: false };
}

async function setIt(inputs: Inputs): Promise<AsaPasswordOutputs> {
  const state = await setAsaPassword(inputs.accountSid, inputs.password, inputs.ldap);
  return { ...inputs, dn: state.dn, passwordLastSet: state.passwordLastSet, passwordSetByUs: state.passwordLastSet, keyVersion: state.keyVersion, keyVersionSetByUs: state.keyVersion, drift: [] };
}

export const asaPasswordImpl: ResourceImpl = {
  replaceKeys: ["accountSid"],
  async check(_olds, news) {
    return checkInputs(news, validate);
  },
  async diff(_id, olds, news) {
    return asaPasswordDiff(olds, validate(news));
  },
  async create(raw) {
    const outs = await setIt(validate(raw));
    return { id: outs.accountSid, outs };
  },
  async read(id, props: AsaPasswordOutputs) {
    try {
      const state = await readAsaPasswordState(id, props.ldap, props.dn);
      const drift = resetByHand({ ...props, passwordLastSet: state.passwordLastSet, keyVersion: state.keyVersion })
        ? [`the ASA's password was set by someone else at ${state.passwordLastSet} (we set it at ${props.passwordSetByUs}); the Exchange servers do not hold that one`]
        : [];
      return { id, props: { ...props, dn: state.dn, passwordLastSet: state.passwordLastSet, keyVersion: state.keyVersion, drift } };
    } catch (e) {
      if (e instanceof NotFoundError) return {};
      throw e;
    }
  },
  async update(_id, _olds, news) {
    return { outs: await setIt(validate(news)) };
  },
  async delete() {
    // Nothing to undo in AD (see the header).
  },
};

export class AsaPassword extends pulumi.dynamic.Resource {
  declare readonly accountSid: pulumi.Output<string>;
  declare readonly dn: pulumi.Output<string>;
  declare readonly passwordLastSet: pulumi.Output<string>;
  declare readonly keyVersion: pulumi.Output<number>;
  declare readonly drift: pulumi.Output<string[]>;

  constructor(name: string, args: AsaPasswordArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      thinProvider("exchange-kerberos:AsaPassword"),
      name,
      { resourceUrn: dynamicResourceUrn("AsaPassword", name, opts?.parent), pulumiStack: stackInput(), dn: undefined, passwordLastSet: undefined, passwordSetByUs: undefined, keyVersion: undefined, keyVersionSetByUs: undefined, drift: undefined, ...args,
        // A secret whatever the program gives: a plain string would otherwise be stored in plain
        // text among the inputs (additionalSecretOutputs covers only the outputs).
        password: pulumi.secret(args.password) },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "password"] },
      "exchange-kerberos",
      "AsaPassword",
    );
  }
}
