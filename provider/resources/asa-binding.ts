// AsaBinding: the ASA credential (DOMAIN\NAME$ + password) bound on one Exchange server
// (Set-ClientAccessServer on 2013, Set-ClientAccessService on 2016+, with
// -AlternateServiceAccountCredential). Every bind sets the server's credentials explicitly: the new
// password (latest) and the one AD holds now (`adPassword`), so the server accepts tickets for AD's
// current key until AD's password changes, as RollAlternateServiceAccountPassword.ps1 intends. It
// never relies on Exchange shifting its latest credential to "previous": after a failed rotation
// that latest is a password AD never got, and a second rotation would push AD's out. The password
// cannot be read back (only on the server itself), so `read` relies on the credential status: the
// account and when it was added. A credential added later by someone else, or a different account,
// is drift.
import * as pulumi from "@pulumi/pulumi";
import { deleteFirst, dynamicResourceUrn, stackInput } from "../owner";
import { AlreadyExistsError, ConflictError, InvalidInputError, warn } from "../errors";
import type { ExchangeOverride } from "../settings";
import { bool } from "../validate";
import { CheckFailures, ResourceImpl, thinProvider, checkInputs, containsUnknown } from "./dynamic";
import { takeoverNote, takingOver } from "./takeover";
import { exchangeServerName, resourceUrnInput, sameServer } from "../exchange/inputs";
import { exchangeServer, getAsaCredentials, removeAsaCredentials, setAsaCredentials, type AsaCredentialStatus, asaServerExists, deleteOnServer, readOnServer } from "../exchange/operations";
import { exchangeOverride } from "../overrides";
import { noteLegacyOrigin, OnDestroy, onDestroyInput, Origin, originOf, recordedOrigin, refuseIfHeld, releasedOnDestroy } from "./lifecycle";

export interface AsaBindingArgs {
  /** The Exchange server (EX1 or its FQDN). Changing it replaces the binding. */
  server: pulumi.Input<string>;
  /** `DOMAIN\NAME$`: AsaComputerAccount's qualifiedName output. */
  account: pulumi.Input<string>;
  /** The ASA's password (kept secret in state): AsaComputerAccount's password output. */
  password: pulumi.Input<string>;
  /**
   * The password AD holds for the ASA now (secret): AsaComputerAccount's adPassword output. Bound
   * beside `password` when it differs, so the server keeps accepting tickets for AD's current key
   * until AD's password is set. Omitted or "" when unknown: then only `password` is bound.
   */
  adPassword?: pulumi.Input<string>;
  /** Bind even though the server already holds ASA credentials of another account. */
  adopt?: pulumi.Input<boolean>;
  /**
   * The ASA's AsaComputerAccount `origin` output. Destroy leaves the credential on the server when
   * the ASA is released (it existed before the stack: it keeps its SPNs and the password the stack
   * set, and every server must keep holding it), and removes it when the ASA is deleted.
   */
  accountOrigin?: pulumi.Input<string>;
  /** The ASA's `onDestroy`: with `delete`, the ASA is deleted and so is its credential here. */
  onDestroy?: pulumi.Input<OnDestroy>;
  exchange?: pulumi.Input<ExchangeOverride>;
}

interface Inputs {
  server: string;
  account: string;
  password: string;
  /** "" when unknown. */
  adPassword: string;
  adopt: boolean;
  accountOrigin?: Origin;
  onDestroy?: OnDestroy;
  exchange?: ExchangeOverride;
  /** This resource's URN, for the fix when its server cannot be reached on read or delete. */
  resourceUrn?: string;
}

export interface AsaBindingOutputs extends Inputs {
  /** Whether the server held an ASA credential before create (lifecycle.ts); absent in older state. */
  origin?: Origin;
  version: string;
  /** When our credential was added (WhenAddedUTC, ISO 8601). */
  boundAt: string;
  /** The server's latest credential as last read. */
  latestAccount: string;
  latestAddedAt: string;
  /** The credential the server keeps next to the latest (rotation), if any. */
  previousAccount: string | null;
  drift: string[];
}

/** `DOMAIN\NAME$`: Exchange refuses any other form for the ASA credential. */
export function asaAccountName(field: string, value: unknown): string {
  const m = typeof value === "string" ? /^([A-Za-z0-9][A-Za-z0-9.-]{0,14})\\([A-Za-z0-9][A-Za-z0-9-]{0,14})\$$/.exec(value) : null;
  if (!m) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not DOMAIN\\NAME$`, "give the NetBIOS domain, a backslash and the computer account's sAMAccountName with its $, such as CORP\\EXCH-ASA$ (AsaComputerAccount's qualifiedName output)", { code: "NOT_A_DOMAIN_ACCOUNT_NAME" });
  }
  return value as string;
}

export function validateAsaBindingInputs(news: Record<string, unknown>, failures?: CheckFailures): Inputs {
  const f = failures ?? new CheckFailures();
  const out: Partial<Inputs> = {};
  f.guard("server", () => (out.server = exchangeServerName("server", news.server)));
  f.guard("account", () => (out.account = asaAccountName("account", news.account)));
  f.guard("password", () => {
    if (typeof news.password !== "string" || news.password === "") throw new InvalidInputError("password", "is empty", "pass the ASA's password (AsaComputerAccount's password output)", { code: "VALUE_EMPTY" });
    out.password = news.password;
  });
  f.guard("adPassword", () => {
    if (news.adPassword !== undefined && news.adPassword !== null && typeof news.adPassword !== "string") {
      throw new InvalidInputError("adPassword", "is not a string", "pass AsaComputerAccount's adPassword output, or leave it out", { code: "NOT_A_STRING" });
    }
    out.adPassword = typeof news.adPassword === "string" ? news.adPassword : "";
  });
  f.guard("adopt", () => (out.adopt = bool("adopt", news.adopt, false)));
  f.guard("onDestroy", () => (out.onDestroy = onDestroyInput("onDestroy", news.onDestroy)));
  out.accountOrigin = recordedOrigin(news.accountOrigin);
  f.guard("exchange", () => (out.exchange = exchangeOverride("exchange", news.exchange)));
  out.resourceUrn = resourceUrnInput(news.resourceUrn);
  if (!failures) f.throwFirst();
  return out as Inputs;
}

/** What the server holds, measured against what we bound. */
export function asaDrift(props: Pick<AsaBindingOutputs, "server" | "account" | "boundAt">, creds: readonly AsaCredentialStatus[]): string[] {
  const latest = creds[0];
  if (!latest) return [`${props.server} holds no ASA credential (removed by hand): Kerberos fails on it`];
  if (latest.account.toLowerCase() !== props.account.toLowerCase()) {
    return [`${props.server} now uses ${latest.account} (added ${latest.whenAddedUtc}) instead of ${props.account}: tickets for the namespace's SPN will not decrypt there`];
  }
  if (latest.whenAddedUtc !== props.boundAt) {
    return [`${props.server}: the credential of ${props.account} was replaced by hand at ${latest.whenAddedUtc} (bound by us at ${props.boundAt}); its password may differ from the account's`];
  }
  return [];
}

export function asaBindingDiff(olds: Partial<AsaBindingOutputs>, news: Inputs): pulumi.dynamic.DiffResult {
  const replaces = sameServer(olds.server ?? "", news.server) ? [] : ["server"];
  const rebind = (olds.account ?? "").toLowerCase() !== news.account.toLowerCase() || olds.password !== news.password;
  const recorded = (olds.onDestroy ?? undefined) !== news.onDestroy;
  const drifted = (olds.drift ?? []).length > 0;
  const override = JSON.stringify(olds.exchange ?? {}) !== JSON.stringify(news.exchange ?? {});
  // `adopt` only matters when the binding is first made: flipping it later changes nothing.
  return { changes: replaces.length > 0 || rebind || drifted || override || recorded, replaces, deleteBeforeReplace: false };
}

function outputs(inputs: Inputs, version: string, boundAt: string, creds: readonly AsaCredentialStatus[]): AsaBindingOutputs {
  return {
    ...inputs,
    version,
    boundAt,
    latestAccount: creds[0]?.account ?? "",
    latestAddedAt: creds[0]?.whenAddedUtc ?? "",
    previousAccount: creds[1]?.account ?? null,
    drift: asaDrift({ ...inputs, boundAt }, creds),
  };
}

async function bind(inputs: Inputs): Promise<AsaBindingOutputs> {
  const h = await exchangeServer(inputs.server, inputs.exchange);
  const creds = await setAsaCredentials(h, inputs.account, inputs.password, inputs.adPassword || undefined);
  const latest = creds[0];
  if (!latest || latest.account.toLowerCase() !== inputs.account.toLowerCase()) {
    throw new ConflictError(`${inputs.server} accepted the ASA credential of ${inputs.account}, but its latest credential is ${latest?.account ?? "none"}`, "run Get-ClientAccessService -IncludeAlternateServiceAccountCredentialStatus on the server to see what it holds", { code: "ASA_CREDENTIAL_NOT_LATEST" });
  }
  return outputs(inputs, h.version, latest.whenAddedUtc, creds);
}

/**
 * Credentials only of our own ASA are ours: the account is the one this stack's
 * AsaComputerAccount made (and marked) or adopted, and binding it again (explicitly, both
 * passwords) is what an earlier create whose answer was lost had started. Any other account's
 * credential is someone else's.
 */
function foreignCredentials(inputs: Inputs, creds: readonly AsaCredentialStatus[]): AsaCredentialStatus[] {
  return creds.filter((c) => c.account.toLowerCase() !== inputs.account.toLowerCase());
}

async function create(raw: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const inputs = validateAsaBindingInputs(raw);
  const h = await exchangeServer(inputs.server, inputs.exchange);
  const found = await getAsaCredentials(h);
  const foreign = foreignCredentials(inputs, found);
  if (foreign.length > 0 && !inputs.adopt) {
    throw new AlreadyExistsError(
      `${inputs.server} already holds ASA credentials of another account (${foreign.map((c) => `${c.account}, added ${c.whenAddedUtc}`).join("; ")})`,
      "set adopt: true on this AsaBinding to bind over them (they are replaced by ours; destroy then removes all ASA credentials from the server)",
      { code: "FOREIGN_ASA_CREDENTIALS" },
    );
  }
  // Binding replaces whatever the server holds: never while another resource of the stack still holds
  // this server's binding in state and removes its credentials later in the run.
  refuseIfHeld(raw, "AsaBinding", `the ASA credential of ${inputs.server}`, (o) => typeof o.server === "string" && sameServer(o.server, inputs.server));
  return { id: `${inputs.server.toLowerCase()}/asa`, outs: { ...(await bind(inputs)), origin: originOf(found.length > 0) } };
}

async function read(id: string, props: AsaBindingOutputs): Promise<pulumi.dynamic.ReadResult> {
  return readOnServer(props, async () => {
    const h = await exchangeServer(props.server, props.exchange, props.version);
    const creds = await getAsaCredentials(h);
    // No credential at all: the binding is gone; refresh shows it deleted and the next up binds again.
    if (creds.length === 0) return { id: "", props: {} };
    return { id, props: outputs(props, h.version, props.boundAt, creds) };
  });
}

async function update(_id: string, olds: AsaBindingOutputs, raw: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const news = validateAsaBindingInputs(raw);
  const rebind = olds.account.toLowerCase() !== news.account.toLowerCase() || olds.password !== news.password || (olds.drift ?? []).length > 0;
  const kept = olds.origin ? { origin: olds.origin } : {};
  if (rebind) return { outs: { ...(await bind(news)), ...kept } };
  const h = await exchangeServer(news.server, news.exchange, olds.version);
  return { outs: { ...outputs(news, h.version, olds.boundAt, await getAsaCredentials(h)), ...kept } };
}

async function del(_id: string, props: AsaBindingOutputs): Promise<void> {
  if (releasedOnDestroy({ origin: props.accountOrigin, onDestroy: props.onDestroy })) {
    warn(`${props.server} keeps the credential of ${props.account}: that ASA existed before this stack and is released, with its SPNs and the password the servers hold`);
    return;
  }
  await deleteOnServer(props, "the server", async () => removeAsaCredentials(await exchangeServer(props.server, props.exchange, props.version)));
}

/** At preview of a takeover: what this binding's create changes on the server (the rotation the ASA
 * announces, a server without the credential, or holding another account's). */
async function noteTakeover(inputs: Inputs): Promise<void> {
  const latest = (await getAsaCredentials(await exchangeServer(inputs.server, inputs.exchange)))[0];
  const account = typeof inputs.account === "string" && !containsUnknown(inputs.account) ? inputs.account : "the ASA";
  if (!latest) takeoverNote(`${inputs.server} holds no ASA credential (SERVER_NO_ASA): this up binds ${account} there`);
  else if (latest.account.toLowerCase() !== account.toLowerCase()) takeoverNote(`${inputs.server} holds the credential of ${latest.account} (SERVER_WRONG_ASA): this up replaces it with ${account}'s`);
  // The rotation the ASA announces, per server: one line each, so the plan says on how many.
  else takeoverNote(`${inputs.server} holds ${account}'s credential: this up binds its new password there (the rotation), before AD's is set`);
}

export const asaBindingImpl: ResourceImpl = {
  replaceKeys: ["server"],
  async check(olds, news) {
    const r = await checkInputs(news, validateAsaBindingInputs, asaServerExists);
    // Only a note: a server that cannot be read here fails create with the cause.
    if (!r.failures?.length && takingOver(news, olds)) await noteTakeover(validateAsaBindingInputs(r.inputs ?? news)).catch(() => undefined);
    return r;
  },
  async diff(_id, olds, news) {
    noteLegacyOrigin({ origin: olds.accountOrigin ?? olds.origin, onDestroy: olds.onDestroy });
    return asaBindingDiff(olds, validateAsaBindingInputs(news));
  },
  create,
  read,
  update,
  delete: del,
};

export class AsaBinding extends pulumi.dynamic.Resource {
  declare readonly server: pulumi.Output<string>;
  declare readonly account: pulumi.Output<string>;
  /** Secret. */
  declare readonly password: pulumi.Output<string>;
  declare readonly version: pulumi.Output<string>;
  declare readonly boundAt: pulumi.Output<string>;
  declare readonly latestAccount: pulumi.Output<string>;
  declare readonly latestAddedAt: pulumi.Output<string>;
  declare readonly previousAccount: pulumi.Output<string | null>;
  declare readonly drift: pulumi.Output<string[]>;

  constructor(name: string, args: AsaBindingArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      thinProvider("exchange-kerberos:AsaBinding"),
      name,
      {
        ...args,
        resourceUrn: dynamicResourceUrn("AsaBinding", name, opts?.parent), pulumiStack: stackInput(),
        password: pulumi.secret(args.password),
        adPassword: args.adPassword === undefined ? undefined : pulumi.secret(args.adPassword),
        version: undefined,
        boundAt: undefined,
        latestAccount: undefined,
        latestAddedAt: undefined,
        previousAccount: undefined,
        drift: undefined,
      },
      deleteFirst({ ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "password", "adPassword"] }),
      "exchange-kerberos",
      "AsaBinding",
    );
  }
}
