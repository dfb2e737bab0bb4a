// Bad input is refused at `pulumi preview`, through the real CLI against a lab DC and the Exchange
// stand-in (a TEST DOUBLE for Exchange): a corpus of hostile or mistaken values for every site
// setting (the site program, examples/site) and every resource input (one resource declared from
// config, test/fixtures/input-stack). Each case asserts: preview exits non-zero, the message names
// the field, no stack trace, no colour codes, no password in the output. Around the whole corpus:
// the OU, the zone, every SPN holder and every computer account read from the DC (LDIF) are
// unchanged, the stand-in's state is byte for byte the same, no stack recorded a resource, and no
// file of the backend or PULUMI_HOME holds a password.
//
// Lean: one lab, one backend, one stack per project; every case is a `pulumi preview
// --config-file <case>.yaml` of that stack, several at once.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { execFileSync } from "child_process";
import { Lab, labAddr, run, startLab } from "../fixtures/lab";
import { CliResult, PulumiCli, REPO_ROOT, resourcesOf } from "../fixtures/pulumi-cli";
import { readState, seedServers, seedWindowsHosts, standinExecutable } from "../fixtures/exchange-standin/state";
import { findSecrets, SecretsScan } from "../fixtures/secrets-scan";
import { configFromMap, configureFromStack } from "../../provider/settings";
import { directoryFor, closeLdapConnections } from "../../provider/ldap/connection";
import { encodeUnicodePwd } from "../../provider/ldap/unicode-pwd";

const NS = "exchange-kerberos";
const CONCURRENCY = 4;

type Value = string | { secret: string } | null; // null: the key is removed
interface Case {
  what: string;
  project: "site" | "resource";
  set: Record<string, Value>;
  /** What the message must name (the field), and optionally more. */
  names: RegExp;
}

/** A resource-input case: corpus:resource = { type, args }. */
function res(type: string, args: Record<string, unknown>, names: RegExp, secret?: Record<string, string>): Case {
  const set: Record<string, Value> = { "corpus:resource": JSON.stringify({ type, args, secretArgs: Object.keys(secret ?? {}) }) };
  for (const [k, v] of Object.entries(secret ?? {})) set[`corpus:${k}`] = { secret: v };
  return { what: `${type} ${JSON.stringify(args)}${secret ? " + secret " + Object.keys(secret).join(",") : ""}`, project: "resource", set, names };
}

function site(key: string, value: Value, names: RegExp = new RegExp(`${NS}:${key}|${key}`), more: Record<string, Value> = {}): Case {
  return { what: `${key}=${value === null ? "(removed)" : typeof value === "string" ? JSON.stringify(value) : "(secret)"}${Object.keys(more).length ? " with " + JSON.stringify(more) : ""}`, project: "site", set: { [`${NS}:${key}`]: value, ...Object.fromEntries(Object.entries(more).map(([k, v]) => [`${NS}:${k}`, v])) }, names };
}

const ALICE_PASSWORD = `Alice-Corpus-${process.pid}-Xy9!`;
/** The KDC proxy certificate in the stand-in's GW1 (a Windows server it emulates), and one that is not there. */
const KDC_CERT = "A1B2C3D4E5F60718293A4B5C6D7E8F9001122334";
const NOT_THERE_CERT = "FFFFEEEEDDDDCCCCBBBBAAAA9999888877776666";

export function corpus(lab: Lab): Case[] {
  const k = (key: string) => new RegExp(`${NS}:${key}`);
  const cases: Case[] = [];
  // servers
  for (const v of ['"EX1"', '{"a":1}', "[]", "[123]", "[null]", '[""]', '["EX1","ex1"]', "", '["EX1;Remove-Item x"]']) cases.push(site("servers", v, k("servers")));
  cases.push(site("servers", '["EX1","EX9"]', /server.*EX9|EX9/));
  cases.push(site("servers", null, k("servers")));
  // namespace
  for (const v of ['"outlook.corp.example"', "outlook corp.example", "outlöök.corp.example", `${"a".repeat(63)}.`.repeat(5) + "corp.example", "*.corp.example", "", "outlook.corp.example."]) cases.push(site("namespace", v, k("namespace")));
  cases.push(site("namespace", "mail.other.example", k("dnsZone")));
  cases.push(site("namespace", null, k("namespace")));
  // dnsZone and dnsAddresses
  for (const v of ["corp", "other.example", ""]) cases.push(site("dnsZone", v, k("dnsZone")));
  cases.push(site("dnsZone", "nosuch.example", /zone/, { namespace: "outlook.nosuch.example", extraSpnNames: "[]" }));
  for (const v of ['"192.0.2.1"', '["192.0.2.300"]', "[]", null]) cases.push(site("dnsAddresses", v, k("dnsAddresses")));
  cases.push(site("dnsAddresses", '["192.0.2.1","192.0.2.1"]', /values|dnsAddresses/));
  cases.push(site("namespace", `dc1.${lab.domain}`, /property name .*already has A records.*adopt/, { extraSpnNames: "[]" }));
  // the ASA
  for (const v of ["", "EXCH-ASA$", "EXCHANGE-ASA-ACCOUNT", "EX ASA", "12345", "a*"]) cases.push(site("asaName", v, k("asaName")));
  cases.push(site("asaName", "LEGACYWEB", /property name .*CORP\\LEGACYWEB\$ already exists.*adopt/));
  cases.push(site("asaName", null, k("asaName")));
  for (const v of ["Service Accounts", "OU=Service Accounts,DC=other,DC=example", "L=Berlin,DC=corp,DC=example", "OU=Service Accounts,DC=corp,DC=example,"]) cases.push(site("asaOu", v, /exchange-kerberos:asaOu|property ou/));
  cases.push(site("asaOu", `OU=No Such OU,${lab.baseDn}`, /property ou .*does not exist/));
  cases.push(site("asaOu", `CN=Configuration,${lab.baseDn}`, /property ou .*naming context/));
  cases.push(site("asaOu", `DC=DomainDnsZones,${lab.baseDn}`, /property ou .*naming context/));
  cases.push(site("asaOu", `CN=Administrator,CN=Users,${lab.baseDn}`, /property ou .*is a user object, not an OU or container/));
  cases.push(site("asaOu", lab.baseDn, /property ou .*not an OU or container/));
  cases.push(site("asaOu", null, k("asaOu")));
  for (const v of ["24abc", "-24", "0", "4", "", "0x4", "99999999999"]) cases.push(site("asaEncryptionTypes", v, k("asaEncryptionTypes")));
  for (const v of ['{"a":"b"}', '"autodiscover.corp.example"', "[1]", '["bad name"]', '["autodiscover.corp.example."]']) cases.push(site("extraSpnNames", v, k("extraSpnNames")));
  cases.push(site("extraSpnNames", '["legacy.corp.example"]', /property spn .*HTTP\/legacy\.corp\.example is already held by CN=LEGACYWEB/));
  for (const v of ["yes", "True"]) cases.push(site("adopt", v, k("adopt")));
  // the KDC proxy: both keys or neither, each value by its key, and a certificate GW1 does not hold
  cases.push(site("kdcProxyServers", '["GW1"]', k("kdcProxyThumbprint")));
  cases.push(site("kdcProxyThumbprint", KDC_CERT, k("kdcProxyServers")));
  cases.push(site("kdcProxyThumbprint", "A1:B2", k("kdcProxyThumbprint"), { kdcProxyServers: '["GW1"]' }));
  cases.push(site("kdcProxyServers", '["GW1","gw1"]', k("kdcProxyServers"), { kdcProxyThumbprint: KDC_CERT }));
  cases.push(site("kdcProxyThumbprint", NOT_THERE_CERT, /property certificateThumbprint .*no certificate FFFF.* on GW1/, { kdcProxyServers: '["GW1"]' }));
  cases.push(site("asaPassword", "", k("asaPassword")));
  cases.push(site("asaPassword", { secret: "line\nbreak-Passw0rd" }, /password.*control character/));
  cases.push(site("asaPassword", { secret: `Long-${"x".repeat(300)}` }, /password.*at most 256/));
  // connection settings
  cases.push(site("ldapUrl", `http://${lab.addr}`, k("ldapUrl")));
  cases.push(site("ldapUrl", `ldap://${lab.addr}`, k("ldapUrl"), { ldapStartTls: "false" }));
  cases.push(site("gcUrl", `ldap://${lab.addr}:3268`, k("gcUrl"), { ldapStartTls: "false" }));
  for (const v of ["0", "15s"]) cases.push(site("ldapTimeoutMs", v, k("ldapTimeoutMs")));
  for (const [key, v] of [["ldapStartTls", "yes"], ["ldapVerifyCertificate", "no"], ["ldapAllowPlainText", "1"], ["exchangeTimeoutMs", "-1"], ["exchangeConnection", "ssh"], ["exchangeAuthentication", "NTLM"]] as const) cases.push(site(key, v, k(key)));
  // the ssh transport (docs/ssh-transport.md): refused before any connection is tried
  const ssh = { exchangeTransport: "ssh", sshTarget: "svc@mgmt01.corp.example", sshKnownHostsFile: lab.caFile };
  cases.push(site("exchangeTransport", "wsman", k("exchangeTransport")));
  cases.push(site("sshTarget", "-oProxyCommand=touch x@mgmt01", k("sshTarget"), { ...ssh, sshTarget: "-oProxyCommand=touch x@mgmt01" }));
  cases.push(site("sshKnownHostsFile", "/nonexistent/known_hosts", k("sshKnownHostsFile"), { ...ssh, sshKnownHostsFile: "/nonexistent/known_hosts" }));
  cases.push(site("sshTarget", "svc@mgmt01.corp.example", /exchange-kerberos:exchangeUser.*SECOND_HOP_NEEDS_CREDENTIAL/, ssh));
    cases.push(site("ldapBindUser", `alice@${lab.domain}`, /allowedChildClassesEffective/, { ldapBindPassword: { secret: ALICE_PASSWORD }, dnsZone: null, dnsAddresses: null }));
  cases.push(site("ldapBindPassword", null, k("ldapBindPassword")));

  // Every resource input, one resource at a time.
  const dns = { zone: lab.domain, name: "corpus-rec", type: "A", values: ["192.0.2.1"] };
  for (const [over, names] of [
    [{ zone: "corp" }, /property zone/], [{ name: "*" }, /property name/], [{ name: `corpus.${lab.domain}` }, /property name/], [{ type: "MX" }, /property type/],
    [{ values: [] }, /property values/], [{ values: "192.0.2.1" }, /property values/], [{ ttl: -1 }, /property ttl/],
    [{ adopt: "yes" }, /property adopt/], [{ ldap: { foo: 1 } }, /property ldap/],
    [{ ldap: { url: "http://x" } }, /property ldap/], [{ type: "CNAME", name: "@", values: ["a.corp.example"] }, /property name/],
    [{ name: "dc1" }, /property name .*already has A records/], [{ zone: "nosuch.example" }, /property zone .*not in the directory/],
  ] as const) cases.push(res("DnsRecord", { ...dns, ...over }, names));
  const asa = { name: "CORPUS-ASA2", ou: `OU=Service Accounts,${lab.baseDn}` };
  for (const [over, names] of [
    [{ name: "" }, /property name/], [{ ou: "OU=x" }, /property ou/], [{ ou: `CN=Configuration,${lab.baseDn}` }, /property ou .*naming context/],
    [{ supportedEncryptionTypes: 4 }, /property supportedEncryptionTypes .*RC4/], [{ supportedEncryptionTypes: "24" }, /property supportedEncryptionTypes/],
    [{ supportedEncryptionTypes: 27 }, /property supportedEncryptionTypes .*DES/], [{ description: "a\nb" }, /property description/], [{ adopt: "true" }, /property adopt/], [{ deferPasswordSet: 1 }, /property deferPasswordSet/],
  ] as const) cases.push(res("AsaComputerAccount", { ...asa, ...over }, names));
  cases.push(res("AsaComputerAccount", asa, /property password .*control character/, { password: "tab\there-Passw0rd" }));
  const spn = { spn: "HTTP/corpus.corp.example", account: `CN=Administrator,CN=Users,${lab.baseDn}` };
  for (const [over, names] of [
    [{ spn: "HTTP" }, /property spn/], [{ spn: "HTTP/*" }, /property spn/],
    [{ account: "*" }, /property account/], [{ account: "a)(objectClass=*" }, /property account/],
  ] as const) cases.push(res("Spn", { ...spn, ...over }, names));
  cases.push(res("AsaPassword", { accountSid: "x" }, /property accountSid/, { password: "Some-Passw0rd-1" }));
  cases.push(res("AsaPassword", { accountSid: "S-1-5-21-1-2-3-1104" }, /property password/, { password: "" }));
  const urls = { server: "EX1", namespace: "outlook.corp.example" };
  for (const [over, names] of [
    [{ server: "EX 1" }, /property server/], [{ server: "EX9" }, /property server .*EX9/], [{ namespace: "bad name" }, /property namespace/], [{ externalNamespace: "x" }, /property externalNamespace/],
    [{ autodiscoverInternalUri: "http://outlook.corp.example/x" }, /property autodiscoverInternalUri/], [{ outlookAnywhereInternalClientsRequireSsl: "yes" }, /property outlookAnywhereInternalClientsRequireSsl/], [{ exchange: { foo: 1 } }, /property exchange/],
  ] as const) cases.push(res("ExchangeVirtualDirectoryUrls", { ...urls, ...over }, names));
  const bind = { server: "EX1", account: `${lab.netbios}\\EXCH-ASA$` };
  cases.push(res("AsaBinding", { ...bind, server: "" }, /property server/, { password: "Some-Passw0rd-1" }));
  cases.push(res("AsaBinding", { ...bind, account: "x" }, /property account/, { password: "Some-Passw0rd-1" }));
  cases.push(res("AsaBinding", bind, /property password/, { password: "" }));
  cases.push(res("OutlookAnywhereAuth", { server: "EX9" }, /property server .*EX9/));
  cases.push(res("OutlookAnywhereAuth", { server: "EX1", internalClientAuthenticationMethod: "Kerberoast" }, /property internalClientAuthenticationMethod/));
  cases.push(res("OutlookAnywhereAuth", { server: "EX1", iisAuthenticationMethods: "Negotiate" }, /property iisAuthenticationMethods/));
  const proxy = { server: "GW1", certificateThumbprint: KDC_CERT, via: "EX1" };
  for (const [over, names] of [
    [{ server: "GW9" }, /property server .*GW9/], [{ url: "https://+:8443/KdcProxy" }, /property url .*HttpsUrlGroup/],
    [{ startType: "Disabled" }, /property state .*disabled service cannot run/], [{ appId: "{not-a-guid}" }, /property appId/],
  ] as const) cases.push(res("KdcProxyServer", { ...proxy, ...over }, names));
  return cases;
}

/** The DC's view of everything a preview could touch, as LDIF (read with ldapsearch). */
async function directorySnapshot(lab: Lab): Promise<string> {
  const zone = `DC=${lab.domain},CN=MicrosoftDNS,DC=DomainDnsZones,${lab.baseDn}`;
  const parts: string[] = [];
  for (const [base, filter, attrs] of [
    [`OU=Service Accounts,${lab.baseDn}`, "(objectClass=*)", ["*"]],
    [zone, "(objectClass=*)", ["*"]],
    [lab.baseDn, "(servicePrincipalName=*)", ["servicePrincipalName"]],
    [lab.baseDn, "(objectClass=computer)", ["sAMAccountName", "whenChanged", "pwdLastSet"]],
  ] as const) {
    const r = await run("ldapsearch", ["-LLL", "-o", "ldif-wrap=no", "-x", "-H", lab.ldapUrl, "-D", lab.adminUser, "-y", path.join(lab.dir, "admin-password"), "-b", base, "-s", "sub", filter, ...attrs], { env: { ...process.env, LDAPTLS_CACERT: lab.caFile } });
    assert.strictEqual(r.code, 0, `ldapsearch ${base}: ${r.stderr}`);
    // Logon bookkeeping of the bind account is not a change a preview makes to the rollout's objects.
    parts.push(r.stdout.split("\n").filter((l) => !/^(lastLogon|lastLogonTimestamp|logonCount|badPwdCount|badPasswordTime):/i.test(l)).join("\n"));
  }
  return parts.join("\n----\n");
}

/** What is wrong with a case's preview, or undefined when it was refused as it must be. */
function verdict(c: Case, r: CliResult, passwords: string[]): string | undefined {
  const out = `${r.stdout}\n${r.stderr}`;
  const why: string[] = [];
  if (r.code === 0) why.push("preview succeeded");
  if (!c.names.test(out)) why.push(`the message does not match ${c.names}`);
  if (/unhandled exception|^\s+at .+:\d+:\d+\)?$/m.test(out)) why.push("a stack trace");
  if (/\u001b\[/.test(out)) why.push("colour codes");
  const secrets = findSecrets(out, passwords);
  if (secrets.length) why.push(`a password in the output (${secrets.join(", ")})`);
  if (!out.split("\n").some((l) => /^\s+error: /.test(l))) why.push("no error line");
  return why.length ? `${c.project} ${c.what}: ${why.join("; ")}\n${out.slice(Math.max(0, out.indexOf("Diagnostics:")))}` : undefined;
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

/** The stack's config file as JSON (YAML's subset): plain values as strings, secrets as ciphertext. */
class StackConfig {
  constructor(
    readonly salt: string,
    readonly values: Record<string, string | { secure: string }>,
  ) {}

  static read(cli: PulumiCli): StackConfig {
    const text = fs.readFileSync(path.join(cli.projectDir, `Pulumi.${cli.stack}.yaml`), "utf8");
    const salt = /^encryptionsalt: (\S+)$/m.exec(text)?.[1];
    assert.ok(salt, text);
    const values: Record<string, string | { secure: string }> = {};
    for (const m of text.matchAll(/^ {2}(\S+):\n {4}secure: (\S+)$/gm)) values[m[1]] = { secure: m[2] };
    return new StackConfig(salt, values);
  }
}

describe("bad input: a corpus of hostile settings and resource inputs, each refused at preview (real CLI, lab DC, Exchange stand-in)", function () {
  this.timeout(1_200_000);
  let lab: Lab;
  let siteCli: PulumiCli;
  let resCli: PulumiCli;
  let stateFile: string;
  const passwords: string[] = [];

  before(async function () {
    lab = await startLab(labAddr(11));
    passwords.push(lab.adminPassword, ALICE_PASSWORD);
    // alice, a plain user: the bind account without rights (her password set before the snapshot).
    configureFromStack(configFromMap(lab.stackConfig));
    const c = directoryFor(undefined);
    const [alice] = await c.search(lab.baseDn, { filter: "(sAMAccountName=alice)", attributes: ["sAMAccountName"] });
    await c.modify(alice.dn, [{ operation: "replace", type: "unicodePwd", values: [encodeUnicodePwd(ALICE_PASSWORD)] }], true);
    await closeLdapConnections();

    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2013" }]);
    seedWindowsHosts(stateFile, [{ name: "GW1", certificates: [KDC_CERT] }]);
    const env = { EXCHANGE_STANDIN_STATE: stateFile };
    siteCli = await PulumiCli.create({ project: "test/fixtures/site-stack", env });
    // One backend for both projects.
    resCli = await PulumiCli.create({ project: "test/fixtures/input-stack", env: { ...env, PULUMI_BACKEND_URL: `file://${siteCli.backendDir}` } });
    for (const cli of [siteCli, resCli]) {
      await cli.selectStack("corpus");
      for (const [key, value] of Object.entries(lab.stackConfig)) await cli.setConfig(key, value, { secret: key.endsWith("Password") });
      await cli.setConfig(`${NS}:exchangeShell`, standinExecutable());
    }
    await siteCli.setAllConfig({
      [`${NS}:namespace`]: "outlook.corp.example",
      [`${NS}:servers`]: '["EX1","EX2"]',
      [`${NS}:dnsZone`]: lab.domain,
      [`${NS}:dnsAddresses`]: '["192.0.2.11","192.0.2.12"]',
      [`${NS}:asaName`]: "CORPUS-ASA",
      [`${NS}:asaOu`]: `OU=Service Accounts,${lab.baseDn}`,
      [`${NS}:extraSpnNames`]: '["autodiscover.corp.example"]',
    });
  });

  after(async function () {
    await siteCli?.dispose();
    await resCli?.dispose();
  });

  it("the base stacks are good: the site previews its creates, and a well-formed resource previews too", async function () {
    const r = await siteCli.preview();
    assert.match(r.stdout, /\+ 13 to create/, r.stdout);
    await resCli.setConfig("corpus:resource", JSON.stringify({ type: "DnsRecord", args: { zone: lab.domain, name: "corpus-rec", type: "A", values: ["192.0.2.1"] } }));
    const ok = await resCli.preview();
    assert.match(ok.stdout, /\+ 2 to create/, ok.stdout);
  });

  it("refuses every case at preview: exit ≠ 0, the field named, one clean line, nothing changed", async function () {
    const cases = corpus(lab);
    assert.ok(cases.length >= 100, `${cases.length} cases`);
    const bases = { site: StackConfig.read(siteCli), resource: StackConfig.read(resCli) };
    const plainBase = {
      site: JSON.parse((await siteCli.run(["config", "--json", "--stack", "corpus"])).stdout) as Record<string, { value?: string; secret: boolean }>,
      resource: JSON.parse((await resCli.run(["config", "--json", "--stack", "corpus"])).stdout) as Record<string, { value?: string; secret: boolean }>,
    };
    // Secret values of the cases, encrypted once with each stack's key.
    const ciphertexts = new Map<string, string>();
    for (const c of cases) {
      for (const v of Object.values(c.set)) {
        if (v === null || typeof v === "string") continue;
        passwords.push(v.secret);
        for (const project of ["site", "resource"] as const) {
          const key = `${project}\0${v.secret}`;
          if (ciphertexts.has(key)) continue;
          const cli = project === "site" ? siteCli : resCli;
          await cli.setConfig("corpus:scratch", v.secret, { secret: true });
          ciphertexts.set(key, (StackConfig.read(cli).values["corpus:scratch"] as { secure: string }).secure);
          await cli.run(["config", "rm", "corpus:scratch", "--stack", "corpus"]);
        }
      }
    }

    const ldifBefore = await directorySnapshot(lab);
    const standinBefore = JSON.stringify([readState(stateFile).servers, readState(stateFile).windowsHosts]);
    const casesDir = fs.mkdtempSync(path.join(siteCli.workDir, "cases-"));
    const results: { c: Case; r: CliResult; ms: number }[] = [];
    const t0 = Date.now();
    await pool(cases, CONCURRENCY, async (c, i) => {
      const cli = c.project === "site" ? siteCli : resCli;
      const values: Record<string, string | { secure: string }> = { ...bases[c.project].values };
      for (const [key, v] of Object.entries(plainBase[c.project])) if (!v.secret && v.value !== undefined) values[key] = v.value;
      for (const [key, v] of Object.entries(c.set)) {
        if (v === null) delete values[key];
        else if (typeof v === "string") values[key] = v;
        else values[key] = { secure: ciphertexts.get(`${c.project}\0${v.secret}`)! };
      }
      const file = path.join(casesDir, `case-${i}.yaml`);
      fs.writeFileSync(file, JSON.stringify({ encryptionsalt: bases[c.project].salt, config: values }, null, 1));
      const start = Date.now();
      const r = await cli.run(["preview", "--stack", "corpus", "--config-file", file], { okCodes: [0, 1, 2, 255] });
      results.push({ c, r, ms: Date.now() - start });
      const why = verdict(c, r, passwords);
      if (why) console.log(`      FAILED ${why}`);
    });
    const wall = (Date.now() - t0) / 1000;

    const failures: string[] = results.map(({ c, r }) => verdict(c, r, passwords)).filter((x): x is string => x !== undefined);
    console.log(`      ${cases.length} cases in ${wall.toFixed(0)} s (${CONCURRENCY} at a time); slowest ${Math.max(...results.map((x) => x.ms)) / 1000} s`);
    // Nothing changed, whatever the verdicts: checked before any assertion can stop the test.
    const ldifAfter = await directorySnapshot(lab);
    if (ldifAfter !== ldifBefore) failures.push(`the directory changed (the OU, the zone, the SPN holders or the computer accounts):\n--- before\n${ldifBefore}\n--- after\n${ldifAfter}`);
    // The servers as Exchange would hold them (the file also counts the stand-in's sessions).
    const serversAfter = JSON.stringify([readState(stateFile).servers, readState(stateFile).windowsHosts]);
    if (serversAfter !== standinBefore) failures.push(`the stand-in's servers changed:\n--- before\n${standinBefore}\n--- after\n${serversAfter}`);
    for (const cli of [siteCli, resCli]) {
      const recorded = resourcesOf(await cli.exportStack());
      if (recorded.length) failures.push(`a stack recorded resources: ${recorded.map((r) => r.urn).join(", ")}`);
      failures.push(...new SecretsScan(cli, () => passwords).findings().map((f) => `password found: ${f}`));
    }
    assert.deepStrictEqual(failures, [], failures.join("\n\n"));
  });

  it("names that slugged alike preview as two resources; a plain gcUrl gets StartTLS; certificate verification off warns", async function () {
    await siteCli.setConfig(`${NS}:extraSpnNames`, '["outlook-corp.example"]');
    try {
      const r = await siteCli.preview();
      // The site program's component is named "site" (not after the stack): its children site-….
      assert.match(r.stdout, /site-spn-outlook\.corp\.example\s+create/, r.stdout);
      assert.match(r.stdout, /site-spn-outlook-corp\.example\s+create/, r.stdout);
    } finally {
      await siteCli.setConfig(`${NS}:extraSpnNames`, '["autodiscover.corp.example"]');
    }
    await siteCli.setConfig(`${NS}:gcUrl`, `ldap://${lab.addr}:3268`);
    await siteCli.setConfig(`${NS}:ldapVerifyCertificate`, "false");
    try {
      const r = await siteCli.preview();
      assert.match(r.stdout, /\+ 13 to create/, r.stdout);
      assert.match(r.stdout, /warning: exchange-kerberos:ldapVerifyCertificate is false: .*Fix: /, r.stdout);
    } finally {
      await siteCli.setConfig(`${NS}:gcUrl`, lab.gcUrl);
      await siteCli.run(["config", "rm", `${NS}:ldapVerifyCertificate`, "--stack", "corpus"]);
    }
  });

  it("a stack made before children were named losslessly keeps its URNs through aliases: nothing created, replaced or deleted, and no changes once up", async function () {
    // The last commit whose KerberosRollout slugged names (dots as hyphens), built beside this tree.
    const git = (...a: string[]) => execFileSync("git", a, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    const renaming = git("log", "-S", "function slug(", "--format=%H", "--", "provider/components/kerberos-rollout.ts").split("\n")[0];
    const legacy = git("rev-parse", `${renaming}^`);
    const dir = fs.mkdtempSync(path.join(siteCli.workDir, "legacy-"));
    execFileSync("bash", ["-c", `git -C "${REPO_ROOT}" archive ${legacy} | tar -x -C "${dir}"`]);
    fs.mkdirSync(path.join(dir, "node_modules"));
    for (const e of fs.readdirSync(path.join(REPO_ROOT, "node_modules"))) {
      if (e === "pulumi-exchange-kerberos" || e === ".bin") continue;
      fs.symlinkSync(path.join(REPO_ROOT, "node_modules", e), path.join(dir, "node_modules", e));
    }
    fs.symlinkSync("..", path.join(dir, "node_modules", "pulumi-exchange-kerberos"));
    execFileSync(process.execPath, [path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(dir, "tsconfig.json")]);

    const legacyState = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    seedServers(legacyState, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2013" }]);
    const env = { EXCHANGE_STANDIN_STATE: legacyState, PULUMI_BACKEND_URL: `file://${siteCli.backendDir}`, PULUMI_HOME: siteCli.homeDir };
    const old = await PulumiCli.create({ project: path.join(dir, "test", "fixtures", "site-stack"), copyProject: false, env });
    const now = await PulumiCli.create({ project: "test/fixtures/site-stack", env });
    try {
      await old.selectStack("legacy");
      for (const [key, value] of Object.entries(lab.stackConfig)) await old.setConfig(key, value, { secret: key.endsWith("Password") });
      await old.setAllConfig({
        // Each version with its own test double: the stand-in answers its own module's operations.
        [`${NS}:exchangeShell`]: path.join(dir, "test", "fixtures", "exchange-standin", "exchange-standin"),
        [`${NS}:namespace`]: "outlook.corp.example",
        [`${NS}:servers`]: '["EX1","EX2"]',
        [`${NS}:dnsZone`]: lab.domain,
        [`${NS}:dnsAddresses`]: '["192.0.2.21"]',
        [`${NS}:asaName`]: "LEGACY-ASA",
        [`${NS}:asaOu`]: `OU=Service Accounts,${lab.baseDn}`,
        [`${NS}:extraSpnNames`]: '["autodiscover.corp.example"]',
      });
      await old.up();
      const before = resourcesOf(await old.exportStack()).map((r) => r.urn);
      assert.ok(before.some((u) => u.endsWith("::legacy-spn-outlook-corp-example")), before.join("\n"));

      fs.copyFileSync(path.join(old.projectDir, "Pulumi.legacy.yaml"), path.join(now.projectDir, "Pulumi.legacy.yaml"));
      now.stack = "legacy";
      await now.setConfig(`${NS}:exchangeShell`, standinExecutable());
      // The URNs are kept: nothing is created, replaced or deleted. Inputs the newer release added
      // (outputs the old state lacks) show as updates at this first preview, since the engine
      // makes an output missing from state unknown at preview; up then changes nothing there.
      const r = await now.preview();
      assert.doesNotMatch(r.stdout, /to create|to replace|to delete/, r.stdout);
      const moved = await now.up();
      assert.doesNotMatch(moved.stdout, /\b(created|replaced|deleted)\b/, moved.stdout);
      const after = resourcesOf(await now.exportStack()).map((x) => x.urn);
      // The component is named "site" now: the stack-named, slugged URNs were kept through the
      // component's alias (its old name, the stack's) and each child's alias (its slugged name).
      assert.ok(after.some((u) => u.endsWith("::site-spn-outlook.corp.example")), after.join("\n"));
      assert.strictEqual(after.length, before.length);
      const again = await now.preview(["--expect-no-changes"]);
      assert.match(again.stdout, /13 unchanged/, again.stdout);
    } finally {
      // Whichever CLI got as far as a stack cleans it up; an error here must not hide the test's.
      for (const cli of [now, old]) {
        if (cli.stack) await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      }
      await now.dispose();
    }
  });
});
