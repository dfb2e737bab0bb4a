// `doctor`: proves that Kerberos for the Outlook namespace works, against the directory, the KDC
// and the Exchange servers a stack points at, and says exactly why when it does not. Eight checks
// (docs/reference/doctor.md lists them with their codes): DNS → SPNs → ASA account → service tickets → the
// ticket decrypts with the ASA password's key → every server holds that credential → Negotiate and
// URLs → the HTTPS endpoint at every address accepts a real Kerberos token (doctor/endpoint.ts).
// Each failure carries a code, its cause and its fix (one line each); the report is also JSON.
// The checks live in doctor/ (dns, directory, exchange, report); this file runs them in order.
// Nothing here writes; no password or key ever enters the report.
import { InvalidInputError } from "../errors";
import { closeLdapConnections, directory } from "../ldap/connection";
import { globalCatalog } from "../ldap/global-catalog";
import { domainInfo, DomainInfo } from "../ldap/domain";
import { registerSecret } from "../secrets";
import { SettingKey, settingDefault } from "../setting-keys";
import { CONFIG_NAMESPACE, ConfigSource, configFromMap, configureFromStack, exchangeSettings, ExchangeSettings, ldapSettings } from "../settings";
import { getServiceTickets, Logon, TicketOutcome } from "../kerberos/tickets";
import { Principal } from "../kerberos/principal";
import { doctorKdcRoute, doctorPrincipal } from "./ticket-source";
import { clockFindings } from "./clock";
import { verifyTicketBytes } from "../kerberos/verify";
import { AsaAccountFacts, readAsaAccount, spnHolders, SpnHolder } from "./directory";
import { closeExchangeSessions } from "../exchange/session";
import { checkDns } from "./dns";
import { checkServer } from "./exchange";
import { checkEndpoints, EndpointTicket } from "./endpoint";
import { checkKdcProxy, parseKdcProxyUrl } from "./kdc-proxy";
import { AES_TYPES, EncryptionTypes } from "../ldap/account-bits";
import { DoctorFinding, DoctorReport, fixOf, message, Report, summarize } from "./report";
import { explainDnsPending, explainPending } from "./pending";
import { checkPasswordAge } from "./password-age";
import type { PasswordAge } from "../asa-password-age";
import { integerValue } from "../config-values";
import { MAX_AGE_DAYS_LIMIT } from "../asa-password-age";

export { CheckId, CheckStatus, DoctorFinding, DoctorReport, formatDoctorReport } from "./report";
import type { DoctorOptions } from "./options";
import type { DoctorCode } from "./codes";
export type { DoctorOptions } from "./options";



function spnNames(o: DoctorOptions): string[] {
  const names = [o.namespace, ...(o.extraSpnNames ?? [])].map((n) => n.toLowerCase().replace(/\.$/, ""));
  return [...new Set(names)];
}

function asaSam(name: string): string {
  const bare = name.replace(/^[^\\]*\\/, "");
  return bare.endsWith("$") ? bare : `${bare}$`;
}

// ---- 2. SPNs -----------------------------------------------------------------------------------

/** Judges the holders of one SPN (exported so a search result can be judged without a directory
 * that allows the duplicate: Samba refuses to write one). */
export function judgeSpnHolders(spn: string, all: SpnHolder[], asa: { dn?: string; samAccountName: string; qualifiedName: string }): Omit<DoctorFinding, "check" | "subject"> {
  const isAsa = (h: SpnHolder): boolean =>
    asa.dn ? h.dn.toLowerCase() === asa.dn.toLowerCase() : (h.samAccountName ?? "").toLowerCase() === asa.samAccountName.toLowerCase();
  // A holder of the alias only (HOST/<name> for HTTP/<name>) matters when nobody holds the SPN
  // itself: the KDC then answers with that holder's key (ldap/domain.ts findSpnHolders).
  const holders = all.filter((h) => h.aliasOf === undefined);
  const aliased = all.filter((h) => h.aliasOf !== undefined && !isAsa(h));
  const others = holders.filter((h) => !isAsa(h));
  const onAsa = holders.length > others.length;
  const names = others.map((h) => h.samAccountName ?? h.dn).join(", ");
  if (!onAsa && others.length === 0 && aliased.length > 0) {
    const a = aliased[0];
    return {
      status: "fail",
      code: "SPN_ALIAS_HELD",
      cause: `no account holds ${spn}, but ${a.samAccountName ?? a.dn} holds ${a.aliasOf}, which the forest's sPNMappings make ${spn} an alias of: the KDC issues tickets for ${spn} encrypted for ${a.samAccountName ?? a.dn}, which no Exchange server can decrypt`,
      fix: `setspn -S ${spn} ${asa.qualifiedName} (pulumi up adds it with Spn); the explicit SPN wins over the alias`,
    };
  }
  if (!onAsa && others.length === 0) {
    return {
      status: "fail",
      code: "SPN_MISSING",
      cause: `no account in the forest holds ${spn}: clients get no ticket for the namespace and Outlook uses NTLM`,
      fix: `setspn -S ${spn} ${asa.qualifiedName} (pulumi up adds it with Spn, after the ASA is bound on every server)`,
    };
  }
  if (onAsa && others.length > 0) {
    return {
      status: "fail",
      code: "SPN_DUPLICATE",
      cause: `${spn} is held by ${asa.qualifiedName} and also by ${names} (${others.map((h) => h.dn).join("; ")}): the KDC refuses duplicate SPNs (KDC_ERR_S_PRINCIPAL_UNKNOWN) and Outlook falls back to NTLM`,
      fix: `remove it from the other account(s): setspn -D ${spn} ${others[0].samAccountName ?? others[0].dn}`,
    };
  }
  if (!onAsa) {
    return {
      status: "fail",
      code: "SPN_WRONG_ACCOUNT",
      cause: `${spn} is held by ${names}, not by the ASA ${asa.qualifiedName}: tickets are encrypted for that account's key, which no Exchange server holds`,
      fix: `move it: setspn -D ${spn} ${others[0].samAccountName ?? others[0].dn}, then setspn -S ${spn} ${asa.qualifiedName}`,
    };
  }
  return { status: "pass", code: "OK", cause: `held by ${asa.qualifiedName} only, in the whole forest` };
}

// ---- 3. the ASA account ------------------------------------------------------------------------

function checkAsa(asa: AsaAccountFacts | undefined, qualifiedName: string, r: Report): void {
  if (!asa) {
    r.add("asa", qualifiedName, "fail", "ASA_MISSING", `the ASA computer account ${qualifiedName} does not exist`, `create it (pulumi up creates it with AsaComputerAccount), then bind it on every server`);
    return;
  }
  if (!asa.enabled) {
    r.add("asa", qualifiedName, "fail", "ASA_DISABLED", `${asa.dn} is disabled: the KDC issues no tickets for its SPNs`, `enable it: Enable-ADAccount ${asa.samAccountName} (or pulumi up)`);
  }
  const enc = asa.supportedEncryptionTypes ?? 0;
  if (!(enc & AES_TYPES)) {
    r.add(
      "asa",
      qualifiedName,
      "fail",
      "ASA_NO_AES",
      `msDS-SupportedEncryptionTypes of ${asa.samAccountName} is ${asa.supportedEncryptionTypes === undefined ? "not set" : `${enc} (0x${enc.toString(16)})`}: no AES, so tickets are RC4 (being retired: KB 5073381) or refused`,
      `set msDS-SupportedEncryptionTypes to 24 (AES128+AES256): AD already holds AES keys from the last password set (domain functional level 2008 or later), no password change is needed`,
    );
  } else if (enc & EncryptionTypes.RC4_HMAC) {
    r.add("asa", qualifiedName, "warn", "ASA_RC4_ALLOWED", `msDS-SupportedEncryptionTypes ${enc} (0x${enc.toString(16)}) still allows RC4, which Windows DCs stop issuing by default from April 2026 (KB 5073381)`, `set it to 24 (AES128+AES256) unless a client cannot do AES`);
  }
  if (!asa.passwordLastSet) {
    r.add("asa", qualifiedName, "fail", "ASA_NO_PASSWORD", `${asa.samAccountName} has no password set: it has no keys at all`, `set its password (pulumi up with AsaComputerAccount), then bind the same credential on every server`);
  }
  // No verdict on a password set before AES was enabled: from the 2008 domain functional level on,
  // AD derives AES keys at every password set whatever msDS-SupportedEncryptionTypes says (seen in
  // the lab: supplementalCredentials holds aes256/aes128 keys after a set with the attribute at 4,
  // and the KDC issues AES tickets once it is 24). The attribute only steers which key the KDC
  // uses; an account that really has no AES keys shows in check 5 as an RC4 ticket.
  if (!r.findings.some((f) => f.check === "asa" && f.subject === qualifiedName && f.status !== "pass")) {
    r.pass(
      "asa",
      qualifiedName,
      `enabled, AES (msDS-SupportedEncryptionTypes ${enc}), password set ${asa.passwordLastSet?.toISOString()}, key version ${asa.keyVersion ?? "?"}`,
    );
  }
}

// ---- 4 + 5. tickets and decryption -------------------------------------------------------------

/** A ticket that does not decrypt because the KDC answered for the HOST/ alias's holder (check 2 says who). */
function aliasTicket(spn: string, spnCode: string | undefined): { code: DoctorCode; cause: string; fix: string } | undefined {
  if (spnCode !== "SPN_ALIAS_HELD") return undefined;
  return {
    code: "TICKET_FOR_ALIAS_HOLDER",
    cause: `the ticket for ${spn} is encrypted for the account holding its HOST/ alias (see check 2), not for the ASA: no password of the ASA decrypts it`,
    fix: `register ${spn} on the ASA (see check 2); the ASA's password is not the cause`,
  };
}

/** A kvno failure as a finding. The KDC answers "Server not found" both when nobody holds the SPN
 * and when several accounts do (it refuses to choose); check 2's finding tells which. */
function ticketFinding(t: Extract<TicketOutcome, { ok: false }>, spnCode: string | undefined): { code: DoctorCode; cause: string; fix: string } {
  if (t.code === "SPN_UNKNOWN" && spnCode === "SPN_DUPLICATE") {
    return {
      code: "TICKET_SPN_NOT_UNIQUE",
      cause: `the KDC refused a ticket for ${t.spn} ("Server not found in Kerberos database") because more than one account holds it (see check 2)`,
      fix: "remove the SPN from every account but the ASA (setspn -D), then klist purge on clients",
    };
  }
  return { code: `TICKET_${t.code}`, cause: t.cause, fix: t.fix };
}

// ---- the run -----------------------------------------------------------------------------------

/** Runs every check; resolves to the report (rejects only on a programming error). */
export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  registerSecret(o.asaPassword);
  registerSecret(o.kerberos.password);
  registerSecret(o.ldap.bindPassword);
  const r = new Report();
  const names = spnNames(o);
  const spns = names.map((n) => `HTTP/${n}`);
  const sam = asaSam(o.asaName);

  const addresses = await explainDnsPending(o, r, await checkDns(o, r));
  const endpoints = o.checkEndpoints ?? settingDefault("httpsCheck");
  let endpointTicket: EndpointTicket | { unavailable: string } = { unavailable: "no ticket was obtained" };

  // 2 + 3: the directory
  let info: DomainInfo | undefined;
  let asa: AsaAccountFacts | undefined;
  let qualifiedName = sam;
  let passwordAgeNow: PasswordAge | undefined;
  try {
    const dc = directory(o.ldap);
    info = await domainInfo(dc);
    qualifiedName = `${info.netbiosName}\\${sam}`;
    asa = await readAsaAccount(dc, info.defaultNamingContext, sam);
    const gc = globalCatalog(o.ldap);
    for (const spn of spns) {
      try {
        const j = judgeSpnHolders(spn, await spnHolders(gc, spn), { dn: asa?.dn, samAccountName: sam, qualifiedName });
        r.add("spn", spn, j.status, j.code, j.cause, j.fix);
      } catch (e) {
        r.add("spn", spn, "fail", "GC_ERROR", `cannot search the Global Catalog for ${spn}: ${message(e)}`, fixOf(e, `check ${CONFIG_NAMESPACE}:gcUrl`));
      }
    }
    checkAsa(asa, qualifiedName, r);
    passwordAgeNow = checkPasswordAge(o, asa?.passwordLastSet, qualifiedName, r);
  } catch (e) {
    for (const spn of spns) r.add("spn", spn, "skip", "NOT_CHECKED", `the directory could not be read: ${message(e)}`, fixOf(e, `check ${CONFIG_NAMESPACE}:ldapUrl and the bind account`));
    r.add("asa", qualifiedName, "skip", "NOT_CHECKED", `the directory could not be read: ${message(e)}`, fixOf(e, `check ${CONFIG_NAMESPACE}:ldapUrl and the bind account`));
  }
  const realm = info?.realm;

  // 4 + 5: real tickets from the KDC, decrypted with the key derived from the ASA password
  let stackPasswordMatchesAd: boolean | undefined;
  if (!realm) {
    for (const spn of spns) r.add("ticket", spn, "skip", "NOT_CHECKED", "the realm is unknown (the directory could not be read)", "fix the directory connection first");
  } else {
    let outcomes: TicketOutcome[] = [];
    let logon: (Logon & { chosenBy?: string }) | undefined;
    let client: Principal | undefined;
    try {
      client = doctorPrincipal(o, realm, info?.netbiosName);
    } catch (e) {
      endpointTicket = { unavailable: message(e) };
      for (const spn of spns) {
        r.add("ticket", spn, "fail", "KERBEROS_USER_NOT_A_PRINCIPAL", message(e), fixOf(e, `set ${CONFIG_NAMESPACE}:kerberosUser`));
        r.add("decrypt", spn, "skip", "NO_TICKET", "no ticket to decrypt", "make check 4 pass first");
      }
    }
    // Outside the network: the proxy path first; without it there is no ticket to ask for.
    const proxyOk = client && o.kdcProxy ? await checkKdcProxy(o.kdcProxy, realm, client, r) : true;
    if (!client) {
      // refused above: no ticket is asked for as someone the doctor had to guess
    } else if (!proxyOk) {
      endpointTicket = { unavailable: "no ticket could be had through the KDC proxy (check 4)" };
      for (const spn of spns) {
        r.add("ticket", spn, "skip", "NOT_CHECKED", "no ticket can be had through the KDC proxy (see its finding)", "fix the KDC proxy first");
        r.add("decrypt", spn, "skip", "NO_TICKET", "no ticket to decrypt", "make check 4 pass first");
      }
    } else {
      try {
        const route = await doctorKdcRoute(o, realm);
        const got = await getServiceTickets({ client, password: o.kerberos.password, realm, route }, spns, { sessionKeys: endpoints });
        outcomes = got.outcomes;
        logon = { ...got.logon, ...(route.kind === "kdcs" ? { chosenBy: route.chosenBy } : {}) };
        clockFindings(logon, r);
      } catch (e) {
        const where = o.kdcProxy ? `${CONFIG_NAMESPACE}:kdcProxyUrl` : `${CONFIG_NAMESPACE}:kerberosKdc`;
        endpointTicket = { unavailable: `no ticket could be requested as ${o.kerberos.user}: ${message(e)}` };
        for (const spn of spns) r.add("ticket", spn, "fail", "KERBEROS_LOGON_FAILED", `no ticket could be requested as ${o.kerberos.user}: ${message(e)}`, fixOf(e, `check ${CONFIG_NAMESPACE}:kerberosUser/kerberosPassword and ${where}`));
      }
    }
    for (const t of outcomes) {
      // Only the namespace's session key is kept (for check 8); the others are wiped at once.
      if (t.ok && t.session && t.spn !== spns[0]) t.session.key.value.fill(0);
      if (t.spn === spns[0]) endpointTicket = t.ok && t.session ? { spn: t.spn, ticket: t.ticket, kvno: t.kvno, session: t.session, clockOffsetMs: logon?.clockOffsetMs } : { unavailable: t.ok ? "no session key" : `the KDC issued no ticket for ${t.spn} (check 4)` };
      if (!t.ok) {
        const f = ticketFinding(t, r.findings.find((x) => x.check === "spn" && x.subject === t.spn)?.code);
        r.add("ticket", t.spn, "fail", f.code, f.cause, f.fix);
        r.add("decrypt", t.spn, "skip", "NO_TICKET", "no ticket to decrypt", "make check 4 pass first");
        continue;
      }
      r.pass("ticket", t.spn, `the KDC issued a ${t.etypeName} ticket (key version ${t.kvno ?? "?"}) to ${o.kerberos.user}${o.kdcProxy ? ` through the KDC proxy ${o.kdcProxy.url} only` : ` (KDC ${logon?.kdc}${logon?.chosenBy ? `: ${logon.chosenBy}` : ""})`}`);
      if (!o.asaPassword) {
        r.add("decrypt", t.spn, "skip", "NO_ASA_PASSWORD", "the ASA password was not given, so the ticket cannot be decrypted as the servers would", `give it: the stack output asaPassword, ${CONFIG_NAMESPACE}:asaPassword, or --asa-password-stdin`);
        continue;
      }
      const v = verifyTicketBytes(t.ticket, { spn: t.spn, asaPassword: o.asaPassword, asaSamAccountName: sam, realm, kvno: asa?.keyVersion });
      const spnFinding = r.findings.find((x) => x.check === "spn" && x.subject === t.spn);
      if (v.ok) {
        stackPasswordMatchesAd ??= true;
        r.pass("decrypt", t.spn, `the ${v.etypeName} ticket decrypts with the key derived from the ASA password (client ${v.client}): every server holding that password can accept it`);
      } else if ((v.code === "KRB_AP_ERR_MODIFIED" || v.code === "STALE_TICKET") && spnFinding?.code === "SPN_WRONG_ACCOUNT") {
        // The KDC encrypted the ticket for the account that holds the SPN (check 2): it says nothing
        // about the ASA's password, which no server needs to differ from AD's for this; nor does
        // its key version, which is that account's (an older one than the ASA's is no stale ticket).
        r.add("decrypt", t.spn, "fail", "KRB_AP_ERR_MODIFIED", `the ticket is encrypted with the key of the account that holds ${t.spn}, not the ASA's (SPN_WRONG_ACCOUNT, check 2): no Exchange server can decrypt it`, spnFinding.fix);
      } else {
        const alias = v.code === "KRB_AP_ERR_MODIFIED" ? aliasTicket(t.spn, r.findings.find((x) => x.check === "spn" && x.subject === t.spn)?.code) : undefined;
        if (!alias && (v.code === "KRB_AP_ERR_MODIFIED" || v.code === "STALE_TICKET")) stackPasswordMatchesAd = false;
        if (alias) r.add("decrypt", t.spn, "fail", alias.code, alias.cause, alias.fix);
        else r.add("decrypt", t.spn, "fail", v.code, v.cause ?? v.code, v.fix);
      }
    }
  }

  // 6 + 7: every server
  if (o.servers.length === 0) {
    r.add("binding", o.namespace, "fail", "NO_SERVERS", "no Exchange servers were given for the namespace", `set ${CONFIG_NAMESPACE}:servers (a JSON list) or --server`);
  } else if (!o.exchange) {
    for (const s of o.servers) r.add("binding", s, "skip", "NOT_CHECKED", "the Exchange connection is not configured", `set ${CONFIG_NAMESPACE}:exchangeShell/exchangeConnection`);
  } else {
    // Side by side (the sessions bound how many at once): each server's password comparison opens
    // a session on that server (docs/reference/exchange-rules.md, rule 1). Findings stay in server order.
    const each = await Promise.all(
      o.servers.map(async (s) => {
        const own = new Report();
        await checkServer(o, s, { qualifiedName, spnNames: names, passwordLastSet: asa?.passwordLastSet, stackPasswordMatchesAd }, own);
        return own.findings;
      }),
    );
    r.findings.push(...each.flat());
  }

  // 8: the endpoint itself, with a token from the namespace's ticket
  if (endpoints) {
    try {
      await checkEndpoints(o, { addresses, ticket: endpointTicket, stackPasswordMatchesAd }, r);
    } finally {
      if (!("unavailable" in endpointTicket)) endpointTicket.session.key.value.fill(0);
    }
  }

  await explainPending(o, r);
  const summary = summarize(r.findings);
  const waits = r.findings.flatMap((f) => (f.retryInSeconds === undefined ? [] : [f.retryInSeconds]));
  const retry = summary.fail === 0 && summary.skip === 0 && waits.length ? { retryAfterSeconds: Math.max(...waits) } : {};
  return { ok: summary.fail === 0 && summary.skip === 0 && summary.pending === 0, namespace: o.namespace, realm, checkedAt: new Date().toISOString(), findings: r.findings, summary, ...retry, ...(passwordAgeNow ? { asaPassword: passwordAgeNow } : {}) };
}

/** Releases the LDAP connections and Exchange sessions the doctor opened (the CLI calls it). */
export async function closeDoctorConnections(): Promise<void> {
  await Promise.all([closeLdapConnections(), closeExchangeSessions()]);
}

// ---- options from a stack's config and outputs ---------------------------------------------------

function jsonList(field: string, value: string | undefined): string[] | undefined {
  if (value === undefined || value === "") return undefined;
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    v = value.split(",").map((s) => s.trim()).filter(Boolean);
  }
  if (typeof v === "string") v = [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new InvalidInputError(`${CONFIG_NAMESPACE}:${field}`, "is not a list of names", `set it to a JSON list, such as ["EX1","EX2"]`, { code: "NOT_A_LIST" });
  }
  return v as string[];
}

/** The host names of the stack output `spns` (["HTTP/outlook.corp.example", …]), if it is one. */
function spnNamesFromOutput(spns: unknown): string[] | undefined {
  if (!Array.isArray(spns)) return undefined;
  const names = spns.filter((x): x is string => typeof x === "string" && /^HTTP\/[^/:]+$/i.test(x)).map((x) => x.slice(5));
  return names.length ? names : undefined;
}

/**
 * DoctorOptions from a stack's config (keys `exchange-kerberos:…`) and, when given, its outputs
 * (asaPassword, asaQualifiedName, namespace, spns; asaPasswordInAd: the AsaPassword resource's
 * password from the state, the one AD holds, which wins). Keys: namespace, servers, dnsAddresses, dnsServer, extraSpnNames,
 * asaName, asaPassword, kerberosUser, kerberosPassword, kerberosKdc, krb5Config, httpsCheck, httpsCaFile, kdcProxyUrl, kdcProxyCaFile,
 * kdcProxyTimeoutMs, and the connection keys of
 * settings.ts. Note: this points the process-wide settings (settings.ts) at `config`.
 */
export function doctorOptionsFromConfig(values: Record<string, string | undefined>, outputs: Record<string, unknown> = {}): DoctorOptions {
  const config: ConfigSource = configFromMap(values);
  const get = (k: SettingKey): string | undefined => {
    const v = config.get(`${CONFIG_NAMESPACE}:${k}`);
    return v === "" ? undefined : v;
  };
  const outStr = (k: string): string | undefined => (typeof outputs[k] === "string" && outputs[k] !== "" ? (outputs[k] as string) : undefined);
  configureFromStack(config);
  const ldap = ldapSettings();
  const namespace = get("namespace") ?? outStr("namespace");
  if (!namespace) throw new InvalidInputError(`${CONFIG_NAMESPACE}:namespace`, "the Outlook namespace is not configured", `pulumi config set ${CONFIG_NAMESPACE}:namespace outlook.corp.example (or --namespace)`, { code: "SETTING_MISSING" });
  const asaName = get("asaName") ?? outStr("asaQualifiedName");
  if (!asaName) throw new InvalidInputError(`${CONFIG_NAMESPACE}:asaName`, "the ASA's name is not configured", `pulumi config set ${CONFIG_NAMESPACE}:asaName EXCH-ASA (or --asa-name)`, { code: "SETTING_MISSING" });
  const servers = jsonList("servers", get("servers")) ?? [];
  let exchange: ExchangeSettings | undefined;
  if (servers.length) exchange = exchangeSettings();
  const kdcProxyUrl = get("kdcProxyUrl");
  let kdcProxy: DoctorOptions["kdcProxy"];
  if (kdcProxyUrl) {
    const parsed = parseKdcProxyUrl(kdcProxyUrl);
    if ("invalid" in parsed) throw new InvalidInputError(`${CONFIG_NAMESPACE}:kdcProxyUrl`, parsed.invalid, `set it to the proxy's URL, such as https://kdcproxy.corp.example/KdcProxy`, { code: "NOT_A_KDC_PROXY_URL" });
    const t = get("kdcProxyTimeoutMs");
    if (t !== undefined && !/^[1-9][0-9]{2,6}$/.test(t)) throw new InvalidInputError(`${CONFIG_NAMESPACE}:kdcProxyTimeoutMs`, `"${t}" is not a whole number of milliseconds from 100 to 9999999`, "write it in decimal, such as 30000", { code: "NUMBER_OUT_OF_RANGE" });
    kdcProxy = { url: kdcProxyUrl, caFile: get("kdcProxyCaFile"), ...(t !== undefined ? { timeoutMs: Number(t) } : {}) };
  }
  return {
    namespace,
    extraSpnNames: jsonList("extraSpnNames", get("extraSpnNames")) ?? spnNamesFromOutput(outputs.spns),
    dnsAddresses: jsonList("dnsAddresses", get("dnsAddresses")),
    dnsServer: get("dnsServer"),
    dnsZone: get("dnsZone"),
    checkEndpoints: get("httpsCheck") === undefined ? undefined : get("httpsCheck") !== "false",
    httpsCaFile: get("httpsCaFile"),
    ...(kdcProxy ? { kdcProxy } : {}),
    asaName,
    asaPassword: outStr("asaPasswordInAd") ?? outStr("asaPassword") ?? get("asaPassword"),
    asaPasswordMaxAgeDays: integerValue(`${CONFIG_NAMESPACE}:asaPasswordMaxAgeDays`, get("asaPasswordMaxAgeDays"), { min: 1, max: MAX_AGE_DAYS_LIMIT, unit: "days", example: "90" }),
    asaPasswordGiven: values[`${CONFIG_NAMESPACE}:asaPassword`] !== undefined && values[`${CONFIG_NAMESPACE}:asaPassword`] !== "",
    servers,
    ldap,
    exchange,
    kerberos: {
      user: get("kerberosUser") ?? ldap.bindUser,
      password: get("kerberosPassword") ?? ldap.bindPassword,
      kdc: get("kerberosKdc"),
      krb5Config: get("krb5Config"),
      ...(get("kerberosUser") === undefined ? { userIsBindUser: true } : {}),
    },
  };
}
