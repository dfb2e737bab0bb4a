// Spn: one servicePrincipalName value on one account. SPNs must be unique in the forest, or
// Negotiate silently falls back to NTLM: create checks the whole forest through the Global
// Catalog and refuses an SPN held by any other account, naming it. Unlike ActiveDirectoryDsc we
// never move an SPN from its holder: that would break whatever service relies on it.
import * as pulumi from "@pulumi/pulumi";
import { AlreadyExistsError, ConflictError, InvalidInputError, NotFoundError, warn } from "../errors";
import { LdapOverride, ldapSettings } from "../settings";
import { bool } from "../validate";
import { CheckFailures, ResourceImpl, thinProvider, checkInputs } from "./dynamic";
import { directory, LdapConnection, str, strs } from "../ldap/connection";
import { globalCatalog } from "../ldap/global-catalog";
import { dnEquals, domainNc, objectDn } from "../ldap/dn";
import { domainInfo, entrySid, findBySamAccountName, findBySid, findSpnHolders } from "../ldap/domain";
import { OWNER_ATTRIBUTE, deleteFirst, dynamicResourceUrn, ownerInput, stackInput } from "../owner";
import { Entry } from "ldapts";
import { askDirectory } from "./preflight";
import { takeoverNote, takingOver } from "./takeover";
import { ldapOverrideInput } from "../overrides";
import { noteLegacyOrigin, OnDestroy, onDestroyInput, Origin, originOf, recordedOrigin, refuseIfHeld, releasedOnDestroy } from "./lifecycle";
import { holderInState, stackOf } from "../stack-state";

export interface SpnArgs {
  /** `service/host[:port][/name]`, such as `HTTP/outlook.corp.example`. */
  spn: pulumi.Input<string>;
  /** The account: its SID (stable when it moves), its DN, or its sAMAccountName (`EXCH-ASA$`, optionally `CORP\EXCH-ASA$`). */
  account: pulumi.Input<string>;
  /** Take over the value when the account already holds it. */
  adopt?: pulumi.Input<boolean>;
  /**
   * The owner mark of the account's AsaComputerAccount (its `owner` output). A value already on an
   * account carrying this mark was written by this stack (an add whose answer was lost): create
   * carries on without adopt. On any other account it is still refused.
   */
  accountOwner?: pulumi.Input<string>;
  /**
   * The account's AsaComputerAccount `origin` output: whether the stack created the account (then
   * a value already on it is an add of ours whose answer was lost) or adopted it.
   */
  accountOrigin?: pulumi.Input<string>;
  /** What destroy does with a value that was on the account before (adopted): `release` (the
   * default) leaves it; `delete` removes it. A value the stack added is always removed. */
  onDestroy?: pulumi.Input<OnDestroy>;
  ldap?: pulumi.Input<LdapOverride>;
}

interface Inputs {
  spn: string;
  account: string;
  adopt: boolean;
  accountOwner?: string;
  accountOrigin?: Origin;
  onDestroy?: OnDestroy;
  ldap?: LdapOverride;
  /** Bookkeeping (lifecycle.ts): where the resource is declared, for the stack's state. */
  pulumiStack?: string;
  resourceUrn?: string;
}

export interface SpnOutputs extends Inputs {
  /** Whether create added the value or found it on the account (lifecycle.ts); absent in older state. */
  origin?: Origin;
  accountDn: string;
  accountSid: string;
  /** Other accounts in the forest that also hold this SPN (a duplicate appeared after create). */
  duplicates: string[];
  drift: string[];
}

const SERVICE = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function hostName(v: string): boolean {
  return v.length <= 253 && v.split(".").every((l) => LABEL.test(l));
}

/** `service/host[:port][/name]` ([MS-ADTS] §5.1.1.4 / RFC 4120 principal form); returned as given. */
export function spnSyntax(field: string, value: unknown): string {
  const fix = "write it as service/host[:port][/name] with a DNS host name, such as HTTP/outlook.corp.example";
  if (typeof value !== "string" || value === "") throw new InvalidInputError(field, "is empty", fix, { code: "VALUE_EMPTY" });
  const m = /^([^/]+)\/([^/:]+)(?::(\d{1,5}))?(?:\/([^/]+))?$/.exec(value);
  if (!m) throw new InvalidInputError(field, `${JSON.stringify(value)} is not an SPN`, fix, { code: "INVALID_SPN" });
  const [, service, host, port, name] = m;
  if (!SERVICE.test(service)) throw new InvalidInputError(field, `${JSON.stringify(service)} is not a service class`, "use letters, digits and hyphens, such as HTTP", { code: "INVALID_SPN" });
  if (!hostName(host)) throw new InvalidInputError(field, `${JSON.stringify(host)} is not a host name`, fix, { code: "INVALID_SPN" });
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw new InvalidInputError(field, `port ${port} is out of range`, "use a port from 1 to 65535, or none", { code: "INVALID_SPN" });
  if (name !== undefined && !hostName(name)) throw new InvalidInputError(field, `${JSON.stringify(name)} is not a service name`, "use a DNS-style name (letters, digits, hyphens, dots)", { code: "INVALID_SPN" });
  return value;
}

/** An account SID (`S-1-5-21-…`): what KerberosRollout passes, stable when the ASA moves. */
const ACCOUNT_SID = /^S-1-5-21-\d+-\d+-\d+-\d+$/;

/** A SID, a DN, or a sAMAccountName with an optional `DOMAIN\` prefix. */
export function accountRef(field: string, value: unknown): string {
  if (typeof value !== "string" || value === "") throw new InvalidInputError(field, "is empty", "give the account's SID, DN or sAMAccountName, such as EXCH-ASA$", { code: "VALUE_EMPTY" });
  if (ACCOUNT_SID.test(value)) return value;
  if (value.includes("=")) return objectDn(field, value);
  const m = /^(?:([A-Za-z0-9][A-Za-z0-9.-]{0,14})\\)?([^\\]+)$/.exec(value);
  const sam = m?.[2] ?? "";
  // sAMAccountName may not contain " / \ [ ] : ; | = , + * ? < > @ or control characters ([MS-ADTS] §3.1.1.5.2.4).
  if (!m || sam.length > 20 || /["/\\[\]:;|=,+*?<>@\u0000-\u001f\u007f]/.test(sam) || sam.trim() !== sam) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is neither a DN nor a sAMAccountName`, "give the DN (CN=EXCH-ASA,OU=Service Accounts,DC=corp,DC=example) or the sAMAccountName (EXCH-ASA$, or CORP\\EXCH-ASA$)", { code: "INVALID_ACCOUNT_REFERENCE" });
  }
  return value;
}

export function validateSpnInputs(news: Record<string, unknown>, failures?: CheckFailures): Inputs {
  const f = failures ?? new CheckFailures();
  const out: Partial<Inputs> = {};
  f.guard("spn", () => (out.spn = spnSyntax("spn", news.spn)));
  f.guard("account", () => (out.account = accountRef("account", news.account)));
  f.guard("adopt", () => (out.adopt = bool("adopt", news.adopt, false)));
  f.guard("onDestroy", () => (out.onDestroy = onDestroyInput("onDestroy", news.onDestroy)));
  f.guard("ldap", () => (out.ldap = ldapOverrideInput("ldap", news.ldap)));
  out.accountOwner = ownerInput(news.accountOwner);
  out.accountOrigin = recordedOrigin(news.accountOrigin);
  if (typeof news.pulumiStack === "string") out.pulumiStack = news.pulumiStack;
  if (typeof news.resourceUrn === "string") out.resourceUrn = news.resourceUrn;
  if (!failures) f.throwFirst();
  return out as Inputs;
}

/** Whether the declared account is the one state holds: by SID when the reference is one (a DN
 * recorded by an older stack then still matches the same account, wherever it has moved). */
function sameAccount(olds: Partial<SpnOutputs>, account: string): boolean {
  if (ACCOUNT_SID.test(account)) return olds.accountSid === account;
  if (!olds.account) return false;
  return olds.account.includes("=") && account.includes("=") ? dnEquals(olds.account, account) : olds.account.toLowerCase() === account.toLowerCase();
}

export function spnDiff(olds: Partial<SpnOutputs>, news: Inputs): pulumi.dynamic.DiffResult {
  const replaces: string[] = [];
  if ((olds.spn ?? "").toLowerCase() !== news.spn.toLowerCase()) replaces.push("spn");
  const accountChanged = !sameAccount(olds, news.account);
  if (accountChanged) replaces.push("account");
  const dup = (olds.duplicates ?? []).length > 0;
  const onDestroy = (olds.onDestroy ?? undefined) !== news.onDestroy;
  return {
    changes: replaces.length > 0 || dup || onDestroy,
    replaces,
    // The new holder cannot get the SPN while the old one still has it (forest uniqueness).
    deleteBeforeReplace: accountChanged,
  };
}

const ACCOUNT_ATTRS = ["distinguishedName", "sAMAccountName", "objectSid", "servicePrincipalName", OWNER_ATTRIBUTE];

async function resolveAccount(c: LdapConnection, account: string): Promise<Entry> {
  const info = await domainInfo(c);
  if (ACCOUNT_SID.test(account)) {
    const e = await findBySid(c, info.defaultNamingContext, account, ACCOUNT_ATTRS);
    if (!e) throw new NotFoundError(`no account with SID ${account} in ${info.netbiosName}`, "create the account first (AsaComputerAccount) and pass its sid output", { code: "ACCOUNT_NOT_FOUND" });
    return e;
  }
  if (account.includes("=")) {
    try {
      const [e] = await c.search(account, { scope: "base", attributes: ACCOUNT_ATTRS, binary: ["objectSid"] });
      if (e) return e;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    throw new NotFoundError(`the account ${account} does not exist`, "create the account first (AsaComputerAccount) and pass its dn output", { code: "ACCOUNT_NOT_FOUND" });
  }
  const [domain, sam] = account.includes("\\") ? account.split("\\") : [undefined, account];
  if (domain !== undefined && domain.toUpperCase() !== info.netbiosName && domain.toLowerCase() !== info.dnsDomain) {
    throw new NotFoundError(`the account ${account} is in domain ${domain}, but ${c.url} is a DC of ${info.netbiosName}`, "point the resource's ldap.url at a DC of that domain, or pass the account's DN", { code: "ACCOUNT_IN_OTHER_DOMAIN" });
  }
  const found = await findBySamAccountName(c, info.defaultNamingContext, sam, ACCOUNT_ATTRS);
  if (found.length === 0) throw new NotFoundError(`no account with sAMAccountName ${sam} in ${info.netbiosName}`, "check the name (computer accounts end in $), or pass the account's DN", { code: "ACCOUNT_NOT_FOUND" });
  if (found.length > 1) throw new ConflictError(`${found.length} accounts have sAMAccountName ${sam}: ${found.map((e) => e.dn).join("; ")}`, "resolve the duplicate, or pass the account's DN", { code: "SAM_ACCOUNT_NAME_DUPLICATE" });
  return found[0];
}

/** Every object in the forest that holds `spn` (case-insensitive: the attribute's matching rule). */
/** Every holder of `spn` in the forest (one Global Catalog search), with the SIDs that tell ours. */
async function holderEntries(gc: LdapConnection, spn: string): Promise<Entry[]> {
  return findSpnHolders(gc, spn, ["objectSid"]);
}

async function holders(gc: LdapConnection, spn: string): Promise<string[]> {
  return (await holderEntries(gc, spn)).map((e) => e.dn);
}

function holds(e: Entry, spn: string): boolean {
  return strs(e, "servicePrincipalName").some((v) => v.toLowerCase() === spn.toLowerCase());
}

function connections(inputs: { ldap?: LdapOverride }): { c: LdapConnection; gc: LdapConnection } {
  const s = ldapSettings(inputs.ldap ?? {});
  return { c: directory(s), gc: globalCatalog(s) };
}

/** One other holder of an SPN, and whether it is stranded (see otherHolders). */
interface OtherHolder {
  dn: string;
  stranded: boolean;
}

/**
 * The accounts other than `mine` (by SID) that hold `spn`, forest-wide. One is *stranded* when it
 * carries this stack's ASA mark (`accountOwner`, owner.ts) and no AsaComputerAccount of the stack
 * holds it in state: an ASA the stack let go of without removing its SPNs (retainOnDelete through
 * a rename, or a state that was lost). Its value is moved to the declared account, not refused:
 * nothing else can serve it, and leaving it there would strand Kerberos on a dead account.
 */
async function otherHolders(c: LdapConnection, gc: LdapConnection, inputs: Inputs, spn: string, mine: (e: Entry) => boolean): Promise<OtherHolder[]> {
  const found = (await holderEntries(gc, spn)).filter((e) => !mine(e));
  const out: OtherHolder[] = [];
  for (const e of found) {
    let stranded = false;
    if (inputs.accountOwner !== undefined) {
      // The mark is read from the DC: adminDescription is not in the Global Catalog.
      const [own] = await c.search(e.dn, { scope: "base", attributes: [OWNER_ATTRIBUTE, "objectSid"], binary: ["objectSid"] }).catch(() => []);
      const sid = own ? entrySid(own) : undefined;
      stranded = own !== undefined && str(own, OWNER_ATTRIBUTE) === inputs.accountOwner && holderInState(stackOf(inputs), "AsaComputerAccount", (o) => o.sid === sid) === undefined;
    }
    out.push({ dn: e.dn, stranded });
  }
  return out;
}

function heldElsewhere(spn: string, others: string[], on: string, discoverCode: string): ConflictError {
  return new ConflictError(
    `the SPN ${spn} is already held by ${others.join("; ")} (${discoverCode}); refusing to add it to ${on} (a duplicate SPN makes Kerberos fail and Outlook fall back to NTLM) and refusing to move it (that would break the service that holds it)`,
    `if that account no longer serves ${spn}, remove it there first (setspn -D ${spn} <account>), then run pulumi up again`,
    { code: "SPN_HELD_ELSEWHERE" },
  );
}

async function create(raw: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const inputs = validateSpnInputs(raw);
  const { c, gc } = connections(inputs);
  const account = await resolveAccount(c, inputs.account);
  const sid = entrySid(account) ?? "";
  const already = holds(account, inputs.spn);
  const others = await otherHolders(c, gc, inputs, inputs.spn, (e) => dnEquals(e.dn, account.dn));
  const foreign = others.filter((o) => !o.stranded).map((o) => o.dn);
  if (foreign.length > 0) throw heldElsewhere(inputs.spn, foreign, account.dn, already ? "SPN_DUPLICATE" : "SPN_WRONG_ACCOUNT");
  let origin: Origin;
  if (already) {
    // On an account the stack created, a value already there is an add of ours whose answer was
    // lost; on any other account it existed before the stack, and is taken over only with adopt.
    const lostAnswer = inputs.accountOrigin !== "adopted" && inputs.accountOwner !== undefined && str(account, OWNER_ATTRIBUTE) === inputs.accountOwner;
    if (!inputs.adopt && !lostAnswer) {
      throw new AlreadyExistsError(`${account.dn} already holds the SPN ${inputs.spn}`, "set adopt: true on this Spn to take the value over (destroy then leaves it, unless onDestroy is delete)", { code: "SPN_ALREADY_HELD" });
    }
    refuseIfHeld(raw, "Spn", `the SPN ${inputs.spn} on ${account.dn}`, (o) => o.accountSid === sid && String(o.spn ?? "").toLowerCase() === inputs.spn.toLowerCase());
    // On an account the stack created the value cannot have been there before; otherwise, with
    // adopt, it is adopted whoever wrote it (asa-computer-account.ts).
    origin = inputs.accountOrigin === "created" ? "created" : originOf(!lostAnswer || inputs.adopt);
  } else {
    for (const o of others) {
      // Stranded (see otherHolders): the value leaves the old account first, since the directory
      // refuses a second holder. A failure in between leaves the SPN on no account, which the next
      // up adds: Kerberos falls back to NTLM meanwhile, never to a ticket no server can decrypt.
      const [holder] = await c.search(o.dn, { scope: "base", attributes: ["servicePrincipalName"] });
      const stored = holder ? strs(holder, "servicePrincipalName").filter((v) => v.toLowerCase() === inputs.spn.toLowerCase()) : [];
      if (stored.length) await c.modify(o.dn, [{ operation: "delete", type: "servicePrincipalName", values: stored }]);
      warn(`${inputs.spn} was on ${o.dn}, an account this stack no longer manages that carries its mark: moved to ${account.dn}`);
    }
    try {
      await c.modify(account.dn, [{ operation: "add", type: "servicePrincipalName", values: [inputs.spn] }]);
    } catch (e) {
      if (e instanceof ConflictError) {
        const now = (await holders(gc, inputs.spn)).filter((dn) => !dnEquals(dn, account.dn));
        throw new ConflictError(`the directory refused ${inputs.spn} on ${account.dn}${now.length ? `: it is held by ${now.join("; ")}` : ""}`, "remove the SPN from its current holder first (setspn -D), then run pulumi up again", { code: "SPN_REFUSED", cause: e });
      }
      throw e;
    }
    origin = "created";
  }
  const outs: SpnOutputs = { ...inputs, accountDn: account.dn, accountSid: sid, duplicates: [], drift: [], origin };
  return { id: `${sid}/${inputs.spn}`, outs };
}

async function readState(props: Partial<SpnOutputs>): Promise<{ account?: Entry; others: string[] }> {
  const { c, gc } = connections(props);
  const info = await domainInfo(c);
  const account = props.accountSid ? await findBySid(c, info.defaultNamingContext, props.accountSid, ACCOUNT_ATTRS) : undefined;
  const others = props.spn ? (await holders(gc, props.spn)).filter((dn) => !account || !dnEquals(dn, account.dn)) : [];
  return { account, others };
}

// Two reads per refresh: the ASA's own value from the DC the stack writes to, and every other
// holder from the Global Catalog. A GC other than that DC sees a value written a moment ago only
// after replication (ldap/global-catalog.ts), so it cannot say the value is gone.
async function read(id: string, props: Partial<SpnOutputs>): Promise<pulumi.dynamic.ReadResult> {
  if (!props.spn || !props.accountSid) return { id: "", props: {} };
  const { c, gc } = connections(props);
  const base = props.accountDn ? domainNc(props.accountDn) : (await domainInfo(c)).defaultNamingContext;
  const account = await findBySid(c, base, props.accountSid, ACCOUNT_ATTRS);
  // The value (or its account) is gone: report the resource as deleted, so refresh shows it and
  // the next up adds it again.
  if (!account || !holds(account, props.spn)) return { id: "", props: {} };
  const others = (await holderEntries(gc, props.spn)).filter((e) => entrySid(e) !== props.accountSid).map((e) => e.dn);
  const drift = others.length ? [`${props.spn} is also held by ${others.join("; ")} (duplicate SPN: Kerberos fails for it)`] : [];
  return { id, props: { ...props, accountDn: account.dn, duplicates: others, drift } };
}

async function update(id: string, olds: Partial<SpnOutputs>, raw: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const news = validateSpnInputs(raw);
  const { account, others } = await readState({ ...olds, ...news, accountSid: olds.accountSid });
  if (!account) throw new NotFoundError(`the account ${olds.accountDn ?? news.account} no longer exists`, "run pulumi refresh", { code: "OBJECT_GONE" });
  if (others.length) {
    throw new ConflictError(`the SPN ${news.spn} is held by ${account.dn} and also by ${others.join("; ")}: a duplicate SPN makes Kerberos fail`, `remove it from the other account (setspn -D ${news.spn} <account>) if that one no longer serves it; we never remove or move another account's SPN`, { code: "SPN_HELD_TWICE" });
  }
  return { outs: { ...olds, ...news, accountDn: account.dn, duplicates: [], drift: [], ...(olds.origin ? { origin: olds.origin } : {}) } };
}

async function del(_id: string, props: Partial<SpnOutputs>): Promise<void> {
  if (releasedOnDestroy(props)) {
    warn(`${props.spn} was on ${props.accountDn ?? props.account} before this stack: released, not removed`);
    return;
  }
  const { c } = connections(props);
  const info = await domainInfo(c);
  if (!props.accountSid || !props.spn) return;
  const account = await findBySid(c, info.defaultNamingContext, props.accountSid, ACCOUNT_ATTRS);
  if (!account || !holds(account, props.spn)) return;
  // Delete exactly the value as stored (the directory's case), and nothing else.
  const stored = strs(account, "servicePrincipalName").filter((v) => v.toLowerCase() === props.spn!.toLowerCase());
  try {
    await c.modify(account.dn, [{ operation: "delete", type: "servicePrincipalName", values: stored }]);
  } catch (e) {
    // Gone meanwhile (noSuchAttribute) is done; a refusal (unwillingToPerform, also a
    // ConflictError) left the value there, and a delete reported done would leave it for good.
    if (!(e instanceof ConflictError)) throw e;
    const now = await findBySid(c, info.defaultNamingContext, props.accountSid, ACCOUNT_ATTRS);
    if (now && holds(now, props.spn)) throw e;
  }
}

/**
 * For `check`, read-only: the SPN must not be held by any account in the forest but ours. Ours is
 * the declared account (known at preview for an ASA the stack already has or takes over), and the
 * account state recorded for this SPN (`olds`, or, in the engine's second check of a replacement,
 * what the first check saw: lifecycle.ts), whose value a replacement removes first. A holder that
 * carries this stack's ASA mark and is in no resource's state is moved by create, not refused.
 * With the account unknown (an ASA still to be created), every other holder is refused.
 */
async function preflight(inputs: Inputs, f: CheckFailures, olds: Record<string, unknown>): Promise<void> {
  if (inputs.spn === undefined) return;
  const spn = inputs.spn;
  await askDirectory(f, "spn", `who holds ${spn}`, async () => {
    const { c, gc } = connections(inputs);
    let mine: Entry | undefined;
    if (inputs.account !== undefined) {
      try {
        mine = await resolveAccount(c, inputs.account);
      } catch (e) {
        // An account that does not exist yet cannot hold the SPN: every holder is another one.
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    // The account state recorded for this SPN: its SID (as the rollout passes it) or DN.
    const oldAccount = typeof olds.account === "string" && (olds.spn as string | undefined)?.toLowerCase() === spn.toLowerCase() ? olds.account : undefined;
    const oldSid = typeof olds.accountSid === "string" ? olds.accountSid : undefined;
    const isRef = (e: Entry, ref: string) => (ACCOUNT_SID.test(ref) ? entrySid(e) === ref : ref.includes("=") && dnEquals(e.dn, ref));
    const isOurs = (e: Entry) =>
      (mine !== undefined && (entrySid(e) === entrySid(mine) || dnEquals(e.dn, mine.dn))) ||
      (oldSid !== undefined && entrySid(e) === oldSid) ||
      (oldAccount !== undefined && isRef(e, oldAccount));
    const others = await otherHolders(c, gc, inputs, spn, isOurs);
    const foreign = others.filter((o) => !o.stranded).map((o) => o.dn);
    for (const o of others.filter((x) => x.stranded)) process.stderr.write(`note: ${spn} is on ${o.dn}, an account this stack no longer manages that carries its mark: this up moves it to the ASA\n`);
    // With the account unknown at preview, it is one still to be created (an account the stack
    // takes over is known: its check reads it), which cannot hold the SPN: every holder is another.
    if (foreign.length === 0) return;
    // discover's code for the same finding (SPN_DUPLICATE: on the ASA too; SPN_WRONG_ACCOUNT: elsewhere only).
    const code = mine !== undefined && holds(mine, spn) ? "SPN_DUPLICATE" : "SPN_WRONG_ACCOUNT";
    f.add("spn", "SPN_HELD_ELSEWHERE", `${spn} is already held by ${foreign.join("; ")} (${code}: a duplicate SPN makes Kerberos fail and Outlook fall back to NTLM; we never move another account's SPN)`, `if that account no longer serves ${spn}, remove it there first (setspn -D ${spn} <account>)${inputs.account === undefined ? ", or, if it is the ASA this stack takes over, set adopt: true" : ""}`);
  });
}

export const spnImpl: ResourceImpl = {
  replaceKeys: ["spn", "account"],
  async check(olds, news) {
    const r = await checkInputs(news, validateSpnInputs, preflight, olds);
    if (!r.failures?.length && takingOver(news, olds)) {
      // At preview of a takeover: an SPN nobody holds yet is what this create adds (one held by the
      // adopted ASA is taken over as it is; one held elsewhere is refused above or by create).
      // Only a note: a directory that cannot be read here fails create with the cause.
      const inputs = validateSpnInputs(r.inputs ?? news);
      const holders = await holderEntries(connections(inputs).gc, inputs.spn).catch(() => undefined);
      if (holders?.length === 0) takeoverNote(`no account holds ${inputs.spn} (SPN_MISSING): this up adds it to the ASA`);
    }
    return r;
  },
  async diff(_id, olds, news) {
    noteLegacyOrigin(olds);
    return spnDiff(olds, validateSpnInputs(news));
  },
  create,
  read,
  update,
  delete: del,
};

export class Spn extends pulumi.dynamic.Resource {
  declare readonly spn: pulumi.Output<string>;
  declare readonly account: pulumi.Output<string>;
  declare readonly accountDn: pulumi.Output<string>;
  declare readonly accountSid: pulumi.Output<string>;
  declare readonly duplicates: pulumi.Output<string[]>;
  declare readonly drift: pulumi.Output<string[]>;

  constructor(name: string, args: SpnArgs, opts?: pulumi.CustomResourceOptions) {
    super(thinProvider("exchange-kerberos:Spn"), name, { ...args,
        resourceUrn: dynamicResourceUrn("Spn", name, opts?.parent), pulumiStack: stackInput(), accountDn: undefined, accountSid: undefined, duplicates: undefined, drift: undefined }, deleteFirst(opts), "exchange-kerberos", "Spn");
  }
}
