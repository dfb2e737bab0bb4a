// AsaComputerAccount: the computer account Exchange uses as its Alternate Service Account (ASA).
// Microsoft recommends a computer account; it has no password until one is set, and its AES keys
// come from a password *set*, so every password or encryption-type change sets the password.
import * as pulumi from "@pulumi/pulumi";
import { AlreadyExistsError, ConflictError, InvalidInputError, KerberosRolloutError, NotFoundError, warn } from "../errors";
import { LdapOverride, ldapSettings } from "../settings";
import { askDirectory, baseEntry, checkAsaRights, lowerValues, within } from "./preflight";
import { bool } from "../validate";
import { CheckFailures, ResourceImpl, thinProvider, checkInputs, containsUnknown } from "./dynamic";
import { directoryFor, LdapConnection, Modification, str, strs } from "../ldap/connection";
import { childDn, containerDn, dnEquals, dnKey, domainNc, parentDn, rdnValue } from "../ldap/dn";
import { domainInfo, entrySid, findBySamAccountName, findBySid } from "../ldap/domain";
import { registerSecret } from "../secrets";
import { dateFromFiletime, parseFiletime } from "../ldap/filetime";
import { encodeUnicodePwd, generatePassword } from "../ldap/unicode-pwd";
import { OWNER_ATTRIBUTE, deleteFirst, dynamicResourceUrn, ownerInput, ownerMark, stackInput } from "../owner";
import { Entry } from "ldapts";

import { DEFAULT_ENCRYPTION_TYPES, EncryptionTypes, UAC_ACCOUNTDISABLE, UAC_WORKSTATION_TRUST_ACCOUNT } from "../ldap/account-bits";
import { ldapOverrideInput } from "../overrides";
import { keptOrigin, noteLegacyOrigin, OnDestroy, onDestroyInput, Origin, originOf, refuseIfHeld, releasedOnDestroy } from "./lifecycle";
import { maxAgeDaysInput } from "../asa-password-age";
import { rotationAtCheck } from "./asa-password-rotation";

export { DEFAULT_ENCRYPTION_TYPES, EncryptionTypes } from "../ldap/account-bits";

export interface AsaComputerAccountArgs {
  /** The computer name (NetBIOS rules: 1–15 letters, digits or hyphens), without the trailing `$`. */
  name: pulumi.Input<string>;
  /** DN of the OU or container that holds the account. */
  ou: pulumi.Input<string>;
  /** The password; generated (73 characters) when absent, and then kept: never regenerated. */
  password?: pulumi.Input<string>;
  /** msDS-SupportedEncryptionTypes; default AES128+AES256 (0x18). RC4-only is refused. */
  supportedEncryptionTypes?: pulumi.Input<number>;
  description?: pulumi.Input<string>;
  /** Take over an existing account of this name (its password is reset to ours). */
  adopt?: pulumi.Input<boolean>;
  /**
   * What destroy does with an account that existed before (adopted): `release` (the default) leaves
   * it as it is, with the password the stack set; `delete` deletes it. An account the stack created
   * is always deleted.
   */
  onDestroy?: pulumi.Input<OnDestroy>;
  /**
   * Leave the password in AD to a later step (default false). Microsoft's rotation order: every
   * Exchange server gets the new credential first, AD's password changes last. When true, create
   * gives the account a random throwaway password (so it has keys) and update never sets one; the
   * declared password is only kept as a secret output, for the step that sets it (setAsaPassword).
   */
  deferPasswordSet?: pulumi.Input<boolean>;
  /** Per-resource override of the stack's LDAP settings (a site with its own DC). */
  ldap?: pulumi.Input<LdapOverride>;
  /**
   * The password's maximum age in days, measured from AD's pwdLastSet. A generated password older
   * than that is rotated by the next `pulumi up` (its preview says why); a declared one is never
   * replaced: the preview warns that it is due. See asa-password-rotation.ts.
   */
  passwordMaxAgeDays?: pulumi.Input<number>;
}

interface Inputs {
  /** This resource's mark (owner.ts), written in the add that creates the account. */
  owner?: string;
  name: string;
  ou: string;
  password?: string;
  supportedEncryptionTypes: number;
  description?: string;
  adopt: boolean;
  onDestroy?: OnDestroy;
  deferPasswordSet: boolean;
  ldap?: LdapOverride;
  passwordMaxAgeDays?: number;
}

export interface AsaOutputs extends Inputs {
  password: string;
  dn: string;
  sid: string;
  samAccountName: string;
  qualifiedName: string;
  /** pwdLastSet as read now (ISO 8601). */
  passwordLastSet: string;
  /** pwdLastSet right after *we* set the password: a difference means someone else reset it.
   * Empty when deferPasswordSet hands the password to another step. */
  passwordSetByUs: string;
  keyVersion: number;
  enabled: boolean;
  /**
   * The password AD holds for the account now, as far as this stack knows (a secret; "" when
   * unknown, such as after adopting an account whose password was set elsewhere). With
   * deferPasswordSet, AD's password lags `password` until every server holds the new one: each
   * AsaBinding keeps this one beside the new one, so that no failed rotation strands a server.
   */
  adPassword: string;
  /** pwdLastSet when AD was known to hold adPassword: a later one means AD's password was set since. */
  adPasswordSetAt: string;
  /** What `read` found different from the declared state, in words. */
  drift: string[];
  /** Whether create made the account or found it (adopt, lifecycle.ts); absent in older state. */
  origin?: Origin;
  /** The adminDescription an adopted account had before our mark replaced it: put back on release. */
  markFound?: string | null;
}

// ---- offline validation ----

/** NetBIOS computer name rules ([MS-NRBF]/KB 909264): ≤ 15 characters; we allow the DNS-safe subset. */
export function netbiosName(field: string, value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw new InvalidInputError(field, "is empty", "give a computer name such as EXCH-ASA", { code: "VALUE_EMPTY" });
  }
  if (value.endsWith("$")) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} ends with $`, `give the name without the trailing $ (${value.replace(/\$+$/, "")}); the account's sAMAccountName gets it automatically`, { code: "COMPUTER_NAME_TRAILING_DOLLAR" });
  }
  if (value.length > 15) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is ${value.length} characters; a NetBIOS computer name has at most 15`, "shorten it, such as EXCH-ASA", { code: "COMPUTER_NAME_TOO_LONG" });
  }
  if (!/^[A-Za-z0-9-]+$/.test(value) || value.startsWith("-") || value.endsWith("-")) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not a valid computer name`, "use letters, digits and inner hyphens only (no spaces, dots, underscores or symbols)", { code: "INVALID_COMPUTER_NAME" });
  }
  if (/^\d+$/.test(value)) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is all digits`, "include at least one letter", { code: "COMPUTER_NAME_ALL_DIGITS" });
  }
  return value.toUpperCase();
}

export function encryptionTypes(field: string, value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_ENCRYPTION_TYPES;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > 0x7fffffff) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not a msDS-SupportedEncryptionTypes bit mask`, "use 24 (0x18, AES128+AES256), or 56 (0x38) to add AES session keys", { code: "NOT_AN_ETYPE_MASK" });
  }
  if (value & (EncryptionTypes.DES_CBC_CRC | EncryptionTypes.DES_CBC_MD5)) {
    throw new InvalidInputError(field, `${value} (0x${value.toString(16)}) enables DES, which Windows has disabled since Windows 7 / Server 2008 R2`, "remove the DES bits (0x1, 0x2); use 24 (0x18, AES128+AES256)", { code: "ETYPES_ALLOW_DES" });
  }
  if (!(value & (EncryptionTypes.AES128 | EncryptionTypes.AES256))) {
    throw new InvalidInputError(
      field,
      `${value} (0x${value.toString(16)}) allows no AES type${value & EncryptionTypes.RC4_HMAC ? " (RC4 only)" : ""}. Microsoft is retiring RC4 for Kerberos (CVE-2026-20833, KB5073381): DCs audit RC4 use from January 2026 and default to AES-only from April 2026, after which an RC4-only service account gets no tickets and Outlook silently falls back to NTLM`,
      "use 24 (0x18, AES128+AES256), the default; 28 (0x1C) adds RC4 only for clients that cannot do AES",
      { code: "ETYPES_WITHOUT_AES" },
    );
  }
  return value;
}

function password(field: string, value: unknown): string | undefined {
  // "" is what the resource class sends for "none declared" (see its constructor).
  if (value === undefined || value === null || value === "") return undefined;
  // Never echo the value: it is a password.
  if (typeof value !== "string" || value.length === 0) throw new InvalidInputError(field, "is empty", "omit it to have a 73-character password generated, or give one", { code: "VALUE_EMPTY" });
  if (value.length > 256) throw new InvalidInputError(field, `is ${value.length} characters; AD accepts at most 256`, "use a shorter password, or omit it to have one generated", { code: "PASSWORD_TOO_LONG" });
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidInputError(field, "contains a control character (such as a newline)", "remove it; keytab tools and Exchange cannot take it", { code: "PASSWORD_CONTROL_CHARACTER" });
  return value;
}

function description(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string" || value.length > 1024 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new InvalidInputError(field, "is not a single line of at most 1024 characters", "remove line breaks and control characters", { code: "TEXT_NOT_ONE_LINE" });
  }
  return value;
}

/** Validates and normalizes; throws the first InvalidInputError (for code paths past `check`). */
export function validateAsaInputs(news: Record<string, unknown>, failures?: CheckFailures): Inputs {
  const f = failures ?? new CheckFailures();
  const out: Partial<Inputs> = {};
  f.guard("name", () => (out.name = netbiosName("name", news.name)));
  f.guard("ou", () => (out.ou = containerDn("ou", news.ou)));
  f.guard("password", () => (out.password = password("password", news.password)));
  f.guard("supportedEncryptionTypes", () => (out.supportedEncryptionTypes = encryptionTypes("supportedEncryptionTypes", news.supportedEncryptionTypes)));
  f.guard("description", () => (out.description = description("description", news.description)));
  f.guard("adopt", () => (out.adopt = bool("adopt", news.adopt, false)));
  f.guard("onDestroy", () => (out.onDestroy = onDestroyInput("onDestroy", news.onDestroy)));
  f.guard("deferPasswordSet", () => (out.deferPasswordSet = bool("deferPasswordSet", news.deferPasswordSet, false)));
  f.guard("ldap", () => (out.ldap = ldapOverrideInput("ldap", news.ldap)));
  f.guard("passwordMaxAgeDays", () => (out.passwordMaxAgeDays = maxAgeDaysInput("passwordMaxAgeDays", news.passwordMaxAgeDays)));
  out.owner = ownerInput(news.owner);
  if (!failures) f.throwFirst();
  return out as Inputs;
}

// ---- diff logic (pure) ----

export function asaDiff(olds: Partial<AsaOutputs>, news: Inputs): pulumi.dynamic.DiffResult {
  const replaces: string[] = [];
  const changes: string[] = [];
  if ((olds.name ?? "").toUpperCase() !== news.name.toUpperCase()) replaces.push("name");
  if (!olds.ou || !dnEquals(olds.ou, news.ou)) changes.push("ou");
  if (news.password !== undefined && news.password !== olds.password) changes.push("password");
  if (!news.deferPasswordSet && olds.passwordSetByUs && olds.passwordLastSet !== olds.passwordSetByUs) changes.push("password");
  if (Boolean(olds.deferPasswordSet) !== news.deferPasswordSet) changes.push("deferPasswordSet");
  if (olds.supportedEncryptionTypes !== news.supportedEncryptionTypes) changes.push("supportedEncryptionTypes");
  if ((olds.description ?? undefined) !== news.description) changes.push("description");
  if (olds.enabled === false) changes.push("enabled");
  // Recorded in state by an update, for destroy to read.
  if ((olds.onDestroy ?? undefined) !== news.onDestroy) changes.push("onDestroy");
  // State written before the ASA recorded the password AD holds (an earlier release): record it
  // now, so that the bindings that take it see a known value at every later preview (an output
  // missing from state is unknown at preview, and would plan their update every time).
  if (olds.adPassword === undefined) changes.push("adPassword");
  const all = [...new Set([...replaces, ...changes])];
  return { changes: all.length > 0, replaces, deleteBeforeReplace: false, stables: ["sid"] };
}

// ---- runtime ----

const ATTRS = ["distinguishedName", "sAMAccountName", "objectSid", "objectClass", "userAccountControl", "msDS-SupportedEncryptionTypes", "description", "pwdLastSet", "msDS-KeyVersionNumber", OWNER_ATTRIBUTE];

function isoPwdLastSet(e: Entry): string {
  const raw = str(e, "pwdLastSet");
  const d = raw ? dateFromFiletime(parseFiletime(raw)) : undefined;
  return d ? d.toISOString() : "never";
}

/** What AD holds: `known` when AD's pwdLastSet is still the one recorded with it; otherwise AD's
 * password was set since, by the step that sets the declared password (AsaPassword), so `declared`. */
function adPasswordNow(e: Entry, known: { adPassword?: string; adPasswordSetAt?: string }, declared: string | undefined): { adPassword: string; adPasswordSetAt: string } {
  const now = isoPwdLastSet(e);
  if (known.adPasswordSetAt !== undefined && known.adPasswordSetAt === now) return { adPassword: known.adPassword ?? "", adPasswordSetAt: now };
  return { adPassword: declared ?? "", adPasswordSetAt: now };
}

async function outputsFrom(c: LdapConnection, e: Entry, inputs: Inputs, pw: string, setByUs: string, ad: { adPassword: string; adPasswordSetAt: string }, netbiosHint?: string): Promise<AsaOutputs> {
  const info = netbiosHint ? { netbiosName: netbiosHint } : await domainInfo(c);
  const sam = str(e, "sAMAccountName") ?? `${inputs.name}$`;
  const uac = Number(str(e, "userAccountControl") ?? "0");
  return {
    ...inputs,
    ou: parentDn(e.dn),
    supportedEncryptionTypes: Number(str(e, "msDS-SupportedEncryptionTypes") ?? "0"),
    description: str(e, "description"),
    password: pw,
    dn: e.dn,
    sid: entrySid(e) ?? "",
    samAccountName: sam,
    qualifiedName: `${info.netbiosName}\\${sam}`,
    passwordLastSet: isoPwdLastSet(e),
    passwordSetByUs: setByUs,
    keyVersion: Number(str(e, "msDS-KeyVersionNumber") ?? "0"),
    enabled: (uac & UAC_ACCOUNTDISABLE) === 0,
    adPassword: ad.adPassword,
    adPasswordSetAt: ad.adPasswordSetAt,
    drift: [],
  };
}

/** The account by SID; `dnHint` (the DN state recorded) names its domain without a RootDSE read. */
async function readBySid(c: LdapConnection, sid: string, dnHint?: string): Promise<Entry | undefined> {
  const base = dnHint ? domainNc(dnHint) : (await domainInfo(c)).defaultNamingContext;
  return findBySid(c, base, sid, ATTRS);
}

const passwordFix = "choose a password that meets the domain's password policy (length, complexity, history), or omit it to have a 73-character one generated";

/** The admin reset of the account's password: one replace of unicodePwd, encrypted connection only. */
async function setPassword(c: LdapConnection, dn: string, pw: string): Promise<void> {
  registerSecret(pw);
  try {
    await c.modify(dn, [{ operation: "replace", type: "unicodePwd", values: [encodeUnicodePwd(pw)] }], true);
  } catch (e) {
    if (e instanceof ConflictError) throw new ConflictError(`the directory refused the new password for ${dn}`, passwordFix, { code: "PASSWORD_REFUSED", cause: e });
    throw e;
  }
}

/** Moves the account under `ou` when it is elsewhere; returns its DN. */
async function ensureOu(c: LdapConnection, dn: string, ou: string): Promise<string> {
  if (dnEquals(parentDn(dn), ou)) return dn;
  const cn = rdnValue(dn);
  const target = childDn("CN", cn, ou);
  await c.move(dn, target);
  return target;
}

/** Brings an existing account to the declared state: OU, attributes, enabled, password. */
async function converge(c: LdapConnection, e: Entry, inputs: Inputs, pw: string | undefined): Promise<string> {
  const dn = await ensureOu(c, e.dn, inputs.ou);
  const uac = Number(str(e, "userAccountControl") ?? String(UAC_WORKSTATION_TRUST_ACCOUNT));
  const mods: Modification[] = [];
  if (Number(str(e, "msDS-SupportedEncryptionTypes") ?? "0") !== inputs.supportedEncryptionTypes) {
    mods.push({ operation: "replace", type: "msDS-SupportedEncryptionTypes", values: [String(inputs.supportedEncryptionTypes)] });
  }
  if (str(e, "description") !== inputs.description) {
    mods.push({ operation: "replace", type: "description", values: inputs.description === undefined ? [] : [inputs.description] });
  }
  if (uac & UAC_ACCOUNTDISABLE) {
    mods.push({ operation: "replace", type: "userAccountControl", values: [String((uac & ~UAC_ACCOUNTDISABLE) | UAC_WORKSTATION_TRUST_ACCOUNT)] });
  }
  if (inputs.owner !== undefined && str(e, OWNER_ATTRIBUTE) !== inputs.owner) {
    mods.push({ operation: "replace", type: OWNER_ATTRIBUTE, values: [inputs.owner] });
  }
  if (mods.length) await c.modify(dn, mods);
  if (pw !== undefined) await setPassword(c, dn, pw);
  return dn;
}

// The refusals `check` (at preview) and `create` share, so that both say the same.
function samAccountNameTaken(sam: string, holder: string): ConflictError {
  return new ConflictError(`the sAMAccountName ${sam} is taken by ${holder}, which is not a computer account`, "choose another name for the ASA", { code: "SAM_ACCOUNT_NAME_TAKEN" });
}

function asaExists(qualifiedName: string, dn: string): AlreadyExistsError {
  return new AlreadyExistsError(
    `the computer account ${qualifiedName} already exists at ${dn}`,
    "set adopt: true on this AsaComputerAccount to take it over (its OU, attributes and password are then set to the declared ones, and destroy deletes it), or choose another name",
    { code: "ASA_EXISTS" },
  );
}

function ouMissing(ou: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`the OU ${ou} does not exist in the directory`, "create it first, or correct ou", { code: "OU_NOT_FOUND", cause });
}

function nameTaken(dn: string, sam: string, cause?: unknown): AlreadyExistsError {
  return new AlreadyExistsError(`${dn} already exists and is not the computer ${sam}`, "choose another name, or remove that object", { code: "NAME_TAKEN", cause });
}

async function create(raw: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const inputs = validateAsaInputs(raw);
  const c = directoryFor(inputs.ldap);
  const info = await domainInfo(c);
  const sam = `${inputs.name}$`;
  const pw = inputs.password ?? generatePassword(undefined, inputs.name);
  registerSecret(pw);
  // Deferred: the account still needs *a* password (AD gives a computer account keys only from a
  // password set), but not the declared one until every Exchange server holds it.
  const initial = inputs.deferPasswordSet ? generatePassword(undefined, inputs.name) : pw;
  registerSecret(initial);
  const existing = await findBySamAccountName(c, info.defaultNamingContext, sam, ATTRS);
  let dn: string;
  if (existing.length > 0) {
    const e = existing[0];
    const classes = (Array.isArray(e.objectClass) ? e.objectClass : [e.objectClass]).map((x) => String(x).toLowerCase());
    if (!classes.includes("computer")) {
      throw samAccountNameTaken(sam, e.dn);
    }
    // Our own mark: an earlier create of this resource wrote it and its answer was lost. Carry on
    // as if the add had just succeeded (its throwaway password is unknown: set a new one).
    const ours = inputs.owner !== undefined && str(e, OWNER_ATTRIBUTE) === inputs.owner;
    if (!ours && !inputs.adopt) {
      throw asaExists(`${info.netbiosName}\\${sam}`, e.dn);
    }
    const sid = entrySid(e);
    refuseIfHeld(raw, "AsaComputerAccount", `the account ${info.netbiosName}\\${sam} (${e.dn})`, (o) => o.sid === sid);
    dn = await converge(c, e, inputs, ours ? initial : inputs.deferPasswordSet ? undefined : pw);
  } else {
    dn = childDn("CN", inputs.name, inputs.ou);
    const attrs: Record<string, (string | Buffer)[]> = {
      objectClass: ["top", "person", "organizationalPerson", "user", "computer"],
      sAMAccountName: [sam],
      userAccountControl: [String(UAC_WORKSTATION_TRUST_ACCOUNT)],
      "msDS-SupportedEncryptionTypes": [String(inputs.supportedEncryptionTypes)],
      // Set in the same add so the account never exists without a password (and its AES keys).
      unicodePwd: [encodeUnicodePwd(initial)],
    };
    if (inputs.description !== undefined) attrs.description = [inputs.description];
    if (inputs.owner !== undefined) attrs[OWNER_ATTRIBUTE] = [inputs.owner];
    try {
      await c.add(dn, attrs, true);
    } catch (e) {
      if (e instanceof NotFoundError) throw ouMissing(inputs.ou, e);
      if (e instanceof AlreadyExistsError) throw nameTaken(dn, sam, e);
      if (e instanceof ConflictError) throw new ConflictError(`the directory refused to create ${dn} with the given password`, passwordFix, { code: "PASSWORD_REFUSED", cause: e });
      throw e;
    }
  }
  // Read back where it was written (by DN: an OU outside the domain partition is still found).
  const [e] = await c.search(dn, { scope: "base", attributes: ATTRS, binary: ["objectSid"] }).catch((err: unknown) => {
    if (err instanceof NotFoundError) return [];
    throw err;
  });
  if (!e) throw new NotFoundError(`${dn} vanished right after it was written`, "check for replication or a concurrent delete, then run pulumi up again", { code: "OBJECT_VANISHED" });
  const setAt = inputs.deferPasswordSet ? "" : isoPwdLastSet(e);
  // AD's password now: the one this create set, unless an adopted account kept its own (unknown).
  // Our own mark without adopt is an earlier create of ours whose answer was lost. With adopt, an
  // account there before this create counts as adopted even under our mark (a stack of this name
  // whose state was lost made it): destroy then leaves it, never deletes what may be a user's.
  const adopted = existing.length > 0 && (inputs.adopt || !(inputs.owner !== undefined && str(existing[0], OWNER_ATTRIBUTE) === inputs.owner));
  const ad = { adPassword: adopted && inputs.deferPasswordSet ? "" : inputs.deferPasswordSet ? initial : pw, adPasswordSetAt: isoPwdLastSet(e) };
  const outs = await outputsFrom(c, e, inputs, pw, setAt, ad);
  outs.origin = originOf(adopted);
  if (adopted) outs.markFound = str(existing[0], OWNER_ATTRIBUTE) ?? null;
  return { id: outs.sid, outs };
}

async function read(id: string, props: Partial<AsaOutputs>): Promise<pulumi.dynamic.ReadResult> {
  const c = directoryFor(props.ldap);
  // One read per refresh: the domain and its NetBIOS name come from what state recorded.
  const e = await readBySid(c, id, props.dn);
  if (!e) return { id: "", props: {} };
  const inputs = { ...(props as Inputs) };
  // Kept as recorded: the next update compares the recorded pwdLastSet with AD's to learn whether
  // AD's password was set since, so refresh has nothing to infer (and shows no change for it).
  const ad = { adPassword: props.adPassword ?? "", adPasswordSetAt: props.adPasswordSetAt ?? "" };
  const outs = await outputsFrom(c, e, inputs, props.password ?? "", props.passwordSetByUs ?? "", ad, props.qualifiedName?.split("\\")[0] || undefined);
  const drift: string[] = [];
  if (props.dn && dnKey(props.dn) !== dnKey(outs.dn)) drift.push(`moved from ${props.dn} to ${outs.dn}`);
  if (props.supportedEncryptionTypes !== undefined && props.supportedEncryptionTypes !== outs.supportedEncryptionTypes) {
    drift.push(`msDS-SupportedEncryptionTypes changed from ${props.supportedEncryptionTypes} to ${outs.supportedEncryptionTypes}`);
  }
  if (props.passwordSetByUs && outs.passwordLastSet !== props.passwordSetByUs) {
    drift.push(`password reset by someone else at ${outs.passwordLastSet} (we set it at ${props.passwordSetByUs}); Exchange servers still hold ours`);
  }
  if (!outs.enabled) drift.push("account disabled");
  if ((props.description ?? undefined) !== outs.description) drift.push("description changed");
  outs.drift = drift;
  return { id, props: outs };
}

async function update(id: string, olds: Partial<AsaOutputs>, raw: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  const news = validateAsaInputs(raw);
  const c = directoryFor(news.ldap);
  const e = await readBySid(c, id);
  if (!e) throw new NotFoundError(`the ASA account ${olds.qualifiedName ?? id} (${olds.dn ?? id}) no longer exists`, "run pulumi refresh, then pulumi up to create it again", { code: "OBJECT_GONE" });
  // The password is never regenerated: an explicit one wins, else the one we hold.
  const pw = news.password ?? olds.password ?? generatePassword(undefined, news.name);
  const mustSet =
    !news.deferPasswordSet &&
    ((news.password !== undefined && news.password !== olds.password) ||
      !olds.passwordSetByUs || // deferred until now, or never set by us
      isoPwdLastSet(e) !== olds.passwordSetByUs || // reset by someone else: put ours back
      Number(str(e, "msDS-SupportedEncryptionTypes") ?? "0") !== news.supportedEncryptionTypes); // new key types need a password set
  // AD's password before this update: what a rotation's bindings keep beside the new one.
  const adBefore = adPasswordNow(e, olds, olds.password);
  await converge(c, e, news, mustSet ? pw : undefined);
  const after = await readBySid(c, id);
  if (!after) throw new NotFoundError(`${olds.dn ?? id} vanished during the update`, "run pulumi refresh", { code: "OBJECT_VANISHED" });
  const setAt = news.deferPasswordSet ? "" : mustSet ? isoPwdLastSet(after) : (olds.passwordSetByUs ?? isoPwdLastSet(after));
  const ad = mustSet ? { adPassword: pw, adPasswordSetAt: isoPwdLastSet(after) } : { adPassword: adBefore.adPassword, adPasswordSetAt: isoPwdLastSet(after) };
  return { outs: { ...(await outputsFrom(c, after, news, pw, setAt, ad)), ...keptOrigin(olds as Record<string, unknown>) } };
}

async function del(id: string, props: Partial<AsaOutputs>): Promise<void> {
  const c = directoryFor(props.ldap);
  const e = await readBySid(c, id);
  if (!e) return;
  if (releasedOnDestroy(props)) {
    // It existed before the stack: left as it is (its password is the one the servers hold), with
    // the adminDescription it had before our mark.
    const found = props.markFound ?? null;
    if ((str(e, OWNER_ATTRIBUTE) ?? null) !== found) await c.modify(e.dn, [{ operation: "replace", type: OWNER_ATTRIBUTE, values: found === null ? [] : [found] }]);
    warn(`${props.qualifiedName ?? e.dn} existed before this stack: released, not deleted (it keeps the password the stack set, which the Exchange servers hold)`);
    return;
  }
  await c.del(e.dn);
}

export interface AsaPasswordState {
  dn: string;
  /** pwdLastSet (ISO 8601), or "never". */
  passwordLastSet: string;
  keyVersion: number;
}

async function passwordState(c: LdapConnection, sid: string, dnHint?: string): Promise<AsaPasswordState> {
  const e = await readBySid(c, sid, dnHint);
  if (!e) throw new NotFoundError(`the ASA account with SID ${sid} does not exist`, "create it first (AsaComputerAccount) and pass its sid output; run pulumi refresh if it was deleted by hand", { code: "ACCOUNT_NOT_FOUND" });
  return { dn: e.dn, passwordLastSet: isoPwdLastSet(e), keyVersion: Number(str(e, "msDS-KeyVersionNumber") ?? "0") };
}

/** Where the ASA's password stands in AD now (for a step that sets it, to detect a reset by hand). */
export async function readAsaPasswordState(sid: string, ldap?: LdapOverride, dnHint?: string): Promise<AsaPasswordState> {
  return passwordState(directoryFor(ldap), sid, dnHint);
}

/**
 * Sets the ASA's password in AD, found by SID (stable across renames and moves), over the shared
 * encrypted connection, and returns the state right after: a password *set*, so the KDC derives
 * fresh AES keys and bumps the key version. For AsaComputerAccount and the step that completes a
 * deferred rotation (after every Exchange server holds the new credential).
 */
export async function setAsaPassword(sid: string, password: string, ldap?: LdapOverride): Promise<AsaPasswordState> {
  registerSecret(password);
  const c = directoryFor(ldap);
  const before = await passwordState(c, sid);
  await setPassword(c, before.dn, password);
  return passwordState(c, sid);
}

/**
 * For `check`, read-only, so that `pulumi preview` refuses what `up` could not do before anything
 * changes: the OU must be an OU or container of the domain naming context (not DomainDnsZones, the
 * Configuration partition or a computer object), where the bind user may create computer objects;
 * and the account's name must be free, or ours (state recorded it), or adopted.
 */
async function preflight(inputs: Inputs, f: CheckFailures, olds: Record<string, unknown>): Promise<void> {
  if (inputs.ou === undefined && inputs.name === undefined) return;
  let found: { c: LdapConnection; domain: Awaited<ReturnType<typeof domainInfo>> } | undefined;
  await askDirectory(f, inputs.ou !== undefined ? "ou" : "name", "the directory", async () => {
    const dc = directoryFor(inputs.ldap);
    found = { c: dc, domain: await domainInfo(dc) };
  });
  if (!found) return;
  const { c, domain } = found;
  if (inputs.ou !== undefined) {
    await askDirectory(f, "ou", `the OU ${inputs.ou}`, async () => {
      const ou = await baseEntry(c, inputs.ou, ["objectClass", "allowedChildClassesEffective"]);
      if (!ou) {
        f.addError("ou", ouMissing(inputs.ou));
        return;
      }
      const other = domain.namingContexts.find((nc) => !dnEquals(nc, domain.defaultNamingContext) && within(inputs.ou, nc));
      if (!within(inputs.ou, domain.defaultNamingContext) || other) {
        f.add("ou", "OU_OUTSIDE_DOMAIN", `${inputs.ou} is in the naming context ${other ?? domainNc(inputs.ou)}, not in the domain's (${domain.defaultNamingContext}), where computer accounts live`, `give an OU or container of the domain, such as OU=Service Accounts,${domain.defaultNamingContext}`);
        return;
      }
      const classes = lowerValues(ou, "objectClass");
      if (!classes.includes("organizationalunit") && !classes.includes("container")) {
        const kind = strs(ou, "objectClass").pop() ?? "unknown";
        f.add("ou", "OU_NOT_A_CONTAINER", `${inputs.ou} is a ${kind} object, not an OU or container`, `give an OU or container that holds computer accounts, such as OU=Service Accounts,${domain.defaultNamingContext}`);
        return;
      }
      if (!lowerValues(ou, "allowedChildClassesEffective").includes("computer")) {
        f.add("ou", "NO_RIGHT_TO_CREATE_COMPUTERS", `the bind user ${ldapSettings(inputs.ldap ?? {}).bindUser} may not create computer objects in ${inputs.ou} (allowedChildClassesEffective lacks computer)`, `delegate "Create Computer objects" on that OU to the bind user, or choose an OU where it has that right`);
      }
      if (inputs.name !== undefined) await checkAsaRights(c, f, { ou: inputs.ou, name: inputs.name, description: inputs.description, owner: inputs.owner });
    });
  }
  if (inputs.name !== undefined) {
    await askDirectory(f, "name", `whether ${inputs.name}$ is taken`, async () => {
      const sam = `${inputs.name}$`;
      const [e] = await findBySamAccountName(c, domain.defaultNamingContext, sam, ATTRS);
      if (e) {
        const classes = lowerValues(e, "objectClass");
        if (!classes.includes("computer")) {
          f.addError("name", samAccountNameTaken(sam, e.dn));
          return;
        }
        // Ours: the account state recorded (by SID when check carries it, else by name).
        // Or marked as this resource's own (owner.ts): an earlier create whose answer was lost,
        // which create carries on with.
        const recorded = typeof olds.sid === "string" && olds.sid !== "" ? entrySid(e) === olds.sid : typeof olds.name === "string" && olds.name.toUpperCase() === inputs.name.toUpperCase();
        const marked = inputs.owner !== undefined && str(e, OWNER_ATTRIBUTE) === inputs.owner;
        if (!recorded && !marked && !inputs.adopt) {
          f.addError("name", asaExists(`${domain.netbiosName}\\${sam}`, e.dn));
        }
        return;
      }
      if (inputs.ou === undefined) return;
      const cn = await baseEntry(c, childDn("CN", inputs.name, inputs.ou), ["objectClass"]);
      if (cn) f.addError("name", nameTaken(cn.dn, sam));
    });
  }
}

/** What state recorded about AD's password (absent or unknown at preview: nothing). */
function recorded(olds: Record<string, unknown>): { adPassword?: string; adPasswordSetAt?: string } {
  const text = (v: unknown) => (typeof v === "string" && !containsUnknown(v) ? v : undefined);
  return { adPassword: text(olds.adPassword), adPasswordSetAt: text(olds.adPasswordSetAt) };
}

/** The outputs `check` can already tell, carried in its inputs (see `knownAtPreview`). */
type KnownAtPreview = Partial<Pick<AsaOutputs, "password" | "dn" | "sid" | "samAccountName" | "qualifiedName" | "adPassword" | "adPasswordSetAt">> & { passwordRotation?: string };

/**
 * At preview the engine does not call `update`: a resource being updated shows its checked inputs
 * as its outputs, and every other output is unknown. So that an update of the ASA (a rotation, new
 * encryption types, a move) does not make its SID, DN and name unknown to the SPNs, the bindings
 * and AsaPassword — which would plan changes `up` never makes — `check` carries what it already
 * knows into the inputs: the password (a generated one is kept, never regenerated), and, for the
 * account this stack manages (or adopts), its SID, its DN after any move, and `DOMAIN\NAME$`.
 * One read, on the connection `check` already uses.
 */
async function knownAtPreview(olds: Record<string, unknown>, inputs: Inputs & { previewPass: boolean }): Promise<KnownAtPreview> {
  const generated = typeof olds.password === "string" && olds.password !== "" && !containsUnknown(olds.password) ? olds.password : generatePassword(undefined, inputs.name);
  const known: KnownAtPreview = { password: inputs.password ?? generated };
  const ours = typeof olds.name === "string" && olds.name.toUpperCase() === inputs.name.toUpperCase();
  if (!ours && !inputs.adopt) return known;
  const c = directoryFor(inputs.ldap);
  const info = await domainInfo(c);
  const [e] = await findBySamAccountName(c, info.defaultNamingContext, `${inputs.name}$`, ATTRS);
  const sid = e && entrySid(e);
  if (!e || !sid) return known;
  const sam = str(e, "sAMAccountName") ?? `${inputs.name}$`;
  const dn = dnEquals(parentDn(e.dn), inputs.ou) ? e.dn : childDn("CN", rdnValue(e.dn), inputs.ou);
  if (!ours && (inputs.owner === undefined || str(e, OWNER_ATTRIBUTE) !== inputs.owner)) {
    // Taking over an account whose password no tool can read: the plan is a create, so say here,
    // at preview, that it changes the password (docs/guides/take-over-a-rollout.md).
    warn(
      inputs.deferPasswordSet
        ? `${info.netbiosName}\\${sam} (${e.dn}) is taken over (adopt): its current password cannot be read, so this up rotates it — every AsaBinding binds the new password on its server first, then AsaPassword sets it in AD`
        : `${info.netbiosName}\\${sam} (${e.dn}) is taken over (adopt): its current password cannot be read, so this up sets the declared one in AD`,
    );
  }
  // AD's password, known at preview, from what the last check recorded in the inputs (the engine
  // hands check the old inputs, not the outputs): the password AD held then and its pwdLastSet,
  // both carried in the inputs for that reason. A binding's diff does not compare it, but an
  // unknown one would plan every binding as changed where up changes nothing; and it tells a
  // rotation that stopped between the servers and AD (AD's pwdLastSet unchanged since).
  const now = inputs.deferPasswordSet && ours ? adPasswordNow(e, recorded(olds), typeof olds.password === "string" ? olds.password : undefined) : undefined;
  const adNow = now?.adPassword;
  // A generated password past its maximum age gets a new one, unless a rotation is still under
  // way (AD does not hold the recorded password yet): that one is finished first.
  const rotation = ours ? rotationAtCheck(inputs, `${info.netbiosName}\\${sam}`, isoPwdLastSet(e), !inputs.deferPasswordSet || adNow === known.password) : {};
  const password = rotation.password ?? known.password;
  const adPassword = !inputs.deferPasswordSet ? password : adNow;
  return { ...known, ...rotation, password, sid, dn, samAccountName: sam, qualifiedName: `${info.netbiosName}\\${sam}`, ...(adPassword !== undefined ? { adPassword } : {}), ...(now ? { adPasswordSetAt: now.adPasswordSetAt } : {}) };
}

export const asaComputerAccountImpl: ResourceImpl = {
  replaceKeys: ["name"],
  async check(olds, news) {
    const r = await checkInputs(news, validateAsaInputs, preflight, olds);
    if (r.failures?.length) return r;
    const inputs = validateAsaInputs(r.inputs);
    // previewPass says only which pass this is (asa-password-rotation.ts): never recorded.
    const { previewPass: _pass, ...checked } = r.inputs as Record<string, unknown>;
    return { inputs: { ...checked, ...(await knownAtPreview(olds, { ...inputs, previewPass: r.inputs?.previewPass === true })) } };
  },
  async diff(_id, olds, news) {
    noteLegacyOrigin(olds);
    return asaDiff(olds, validateAsaInputs(news));
  },
  create,
  read,
  update,
  delete: del,
};

export class AsaComputerAccount extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly ou: pulumi.Output<string>;
  declare readonly supportedEncryptionTypes: pulumi.Output<number>;
  declare readonly description: pulumi.Output<string | undefined>;
  declare readonly dn: pulumi.Output<string>;
  declare readonly sid: pulumi.Output<string>;
  declare readonly samAccountName: pulumi.Output<string>;
  /** `DOMAIN\NAME$`, the user name Exchange's ASA credential needs. */
  declare readonly qualifiedName: pulumi.Output<string>;
  declare readonly passwordLastSet: pulumi.Output<string>;
  declare readonly keyVersion: pulumi.Output<number>;
  declare readonly enabled: pulumi.Output<boolean>;
  declare readonly drift: pulumi.Output<string[]>;
  /** Secret. */
  declare readonly password: pulumi.Output<string>;
  /** This resource's owner mark (owner.ts), on the account in AD; an Spn takes it as accountOwner. */
  declare readonly owner: pulumi.Output<string>;
  /** Secret: the password AD holds now ("" when unknown); see AsaOutputs.adPassword. */
  declare readonly adPassword: pulumi.Output<string>;
  /** `created` or `adopted` (lifecycle.ts): what destroy does with the account and its bindings. */
  declare readonly origin: pulumi.Output<string>;

  constructor(name: string, args: AsaComputerAccountArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      thinProvider("exchange-kerberos:AsaComputerAccount"),
      name,
      {
        ...args,
        resourceUrn: dynamicResourceUrn("AsaComputerAccount", name, opts?.parent), pulumiStack: stackInput(),
        owner: ownerMark("AsaComputerAccount", name),
        // Always a secret, "" when none is declared: `check` then puts the generated password in
        // the same key, and the engine keeps a key secret in the checked inputs only when it was
        // secret in the declared ones.
        password: pulumi.secret(pulumi.output(args.password).apply((p) => p ?? "")),
        // A secret input too: `check` may carry AD's password in it (see knownAtPreview), and the
        // engine keeps a checked input secret only when the declared one was.
        adPassword: pulumi.secret(""),
        adPasswordSetAt: undefined,
        dn: undefined,
        sid: undefined,
        samAccountName: undefined,
        qualifiedName: undefined,
        passwordLastSet: undefined,
        passwordSetByUs: undefined,
        keyVersion: undefined,
        enabled: undefined,
        drift: undefined,
        origin: undefined,
        // Which pass of `up` the program runs in, for a rotation that check decides (only with a
        // maximum age): asa-password-rotation.ts.
        ...(args.passwordMaxAgeDays !== undefined ? { previewPass: pulumi.runtime.isDryRun() } : {}),
      },
      deleteFirst({ ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "password", "adPassword"] }),
      "exchange-kerberos",
      "AsaComputerAccount",
    );
  }
}
