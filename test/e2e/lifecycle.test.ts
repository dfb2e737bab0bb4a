// All of Pulumi's lifecycle, not only preview/up/refresh/destroy (docs/reference/lifecycle.md), through the
// real CLI against a lab Samba AD DC and the Exchange stand-in (a TEST DOUBLE for Exchange):
//   - `pulumi up --replace` of every resource type, and `pulumi state taint`: a replacement deletes
//     first (every resource but AsaPassword defaults to deleteBeforeReplace), so no create takes
//     over the object its predecessor then deletes; AD and the servers hold exactly what is
//     declared after each, the doctor agrees, and a preview plans nothing more;
//   - `pulumi stack rename`: nothing to change afterwards, and refresh and destroy read the config
//     of the stack the command names (a stack made under the old name with a DC that answers
//     nobody is never read); `pulumi state move` likewise;
//   - retainOnDelete on the component (which the engine passes to every child) through an ASA
//     rename and a destroy: the old ASA's SPNs move to the new one, nothing is stranded;
//   - protect on the component: destroy is refused, naming it;
//   - a DnsRecord changing type A → CNAME → A.
//   - a transform that turns delete-first off, then a forced replacement of the ASA: refused
//     (HELD_BY_ANOTHER_RESOURCE), nothing deleted.
// After every operation the state, the backend and the CLI's output hold no password.
import * as assert from "assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dig, KerberosShell, ldapsearch } from "../fixtures/admin-tools";
import { Lab, labAddr, run, sambaTool, startLab } from "../fixtures/lab";
import { CliResult, PulumiCli, REPO_ROOT, resourcesOf } from "../fixtures/pulumi-cli";
import { readState, seedServers, standinExecutable } from "../fixtures/exchange-standin/state";
import { SecretsScan } from "../fixtures/secrets-scan";
import { stepTimes } from "../fixtures/step-times";

const SERVICE_OU = "OU=Service Accounts";
const CLI = path.join(REPO_ROOT, "dist", "provider", "cli.js");

interface Site {
  cli: PulumiCli;
  stack: string;
  stateFile: string;
  namespace: string;
  extra: string;
  asaName: string;
  scan: SecretsScan;
  passwords: string[];
}

describe("lifecycle: forced replacements, taint, stack rename, state move, retainOnDelete, protect, a record's type (real CLI, lab DC, Exchange stand-in)", function () {
  this.timeout(900_000);
  let lab: Lab;
  let sh: KerberosShell;
  const sites: Site[] = [];
  const { times, timed } = stepTimes();

  /** A deployed site of its own: stack, namespace, ASA and stand-in servers EX1, EX2. */
  async function site(tag: string, extraConfig: Record<string, string> = {}): Promise<Site> {
    const stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2016" }]);
    const cli = await PulumiCli.create({ project: "test/fixtures/lifecycle-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } });
    const s: Site = {
      cli, stack: `lc-${tag}`, stateFile, namespace: `outlook-${tag}.${lab.domain}`, extra: `autodiscover-${tag}.${lab.domain}`, asaName: `LC-${tag.toUpperCase()}`,
      scan: undefined as unknown as SecretsScan, passwords: [lab.adminPassword],
    };
    s.scan = new SecretsScan(cli, () => s.passwords);
    sites.push(s);
    await cli.selectStack(s.stack);
    await configure(s, extraConfig);
    await op(s, "up", () => cli.up());
    return s;
  }

  async function configure(s: Site, extraConfig: Record<string, string> = {}): Promise<void> {
    for (const [key, value] of Object.entries(lab.stackConfig)) await s.cli.setConfig(key, value, { secret: key.endsWith("Password") });
    const values: Record<string, string> = {
      "exchange-kerberos:exchangeShell": standinExecutable(),
      "exchange-kerberos:krb5Config": lab.krb5Conf,
      // No web server stands behind the addresses: check 8 is proven in truth-table.test.ts.
      "exchange-kerberos:httpsCheck": "false",
      "exchange-kerberos:namespace": s.namespace,
      "exchange-kerberos:servers": '["EX1","EX2"]',
      "exchange-kerberos:dnsZone": lab.domain,
      "exchange-kerberos:dnsAddresses": '["192.0.2.61","192.0.2.62"]',
      "exchange-kerberos:asaName": s.asaName,
      "exchange-kerberos:asaOu": `${SERVICE_OU},${lab.baseDn}`,
      "exchange-kerberos:extraSpnNames": JSON.stringify([s.extra]),
      ...extraConfig,
    };
    for (const [key, value] of Object.entries(values)) await s.cli.setConfig(key, value);
  }

  /** A pulumi command, with the secrets scan over its output, the processes it ran and the backend. */
  async function op(s: Site, name: string, fn: () => Promise<CliResult>): Promise<CliResult> {
    return timed(`${s.stack} ${name}`, async () => {
      const r = await s.scan.during(fn);
      const out = await s.cli.stackOutputs({ showSecrets: true }).catch(() => ({}) as Record<string, unknown>);
      if (typeof out.asaPassword === "string" && !s.passwords.includes(out.asaPassword)) s.passwords.push(out.asaPassword);
      s.scan.assertClean([r]);
      return r;
    });
  }

  async function doctor(s: Site): Promise<void> {
    const d = await run(process.execPath, [CLI, "doctor", "--stack", s.stack, "--cwd", s.cli.projectDir], { env: s.cli.environment(), timeoutMs: 120_000 });
    assert.strictEqual(d.code, 0, `the doctor for ${s.stack}:\n${d.stdout}${d.stderr}`);
  }

  /** AD and the servers hold exactly what the site declares, nothing is left to do, and (unless
   * told otherwise, where MIT's kvno above already proved the ticket) the doctor agrees. */
  async function declared(s: Site, opts: { doctor?: boolean } = {}, asaName = s.asaName): Promise<void> {
    const account = `${asaName}$`;
    const password = String((await s.cli.stackOutputs({ showSecrets: true })).asaPassword);
    const [asa] = ldapsearch(lab, lab.baseDn, `(sAMAccountName=${account})`, ["servicePrincipalName"]);
    assert.ok(asa, `${account} exists`);
    const spns = [s.namespace, s.extra].map((h) => `http/${h}`).sort();
    assert.deepStrictEqual((asa.serviceprincipalname ?? []).map((x) => x.toLowerCase()).sort(), spns, `the SPNs on ${account}`);
    for (const h of [s.namespace, s.extra]) {
      assert.deepStrictEqual(ldapsearch(lab, lab.baseDn, `(servicePrincipalName=HTTP/${h})`, ["sAMAccountName"]).map((e) => e.samaccountname[0].toUpperCase()), [account.toUpperCase()], `the holders of HTTP/${h}`);
    }
    assert.deepStrictEqual(ldapsearch(lab, `${SERVICE_OU},${lab.baseDn}`, `(sAMAccountName=${account})`, ["dn"]).length, 1, `${account} in its OU, once`);
    assert.deepStrictEqual(dig(lab, s.namespace, "A").answers, ["192.0.2.61", "192.0.2.62"], `A ${s.namespace}`);
    sh.fresh();
    sh.kinitAdmin();
    const k = sh.kvno(`HTTP/${s.namespace}`);
    assert.strictEqual(k.status, 0, k.stderr);
    const keytab = await sh.keytab(`HTTP/${s.namespace}`, account, password, Number(/kvno = (\d+)/.exec(k.stdout)?.[1]));
    assert.match(sh.kvno(`HTTP/${s.namespace}`, keytab).stdout, /keytab entry valid/, "a ticket decrypts with the ASA password in state");
    for (const srv of Object.values(readState(s.stateFile).servers)) {
      assert.deepStrictEqual(srv.asa.map((c) => c.userName.toLowerCase()).filter((u) => u !== `${lab.netbios}\\${account}`.toLowerCase()), [], `${srv.name} holds only ${account}'s credential`);
      assert.ok(srv.asa[0]?.password === password, `${srv.name} holds the ASA password AD has`);
      assert.strictEqual(srv.vdirs.owa.internalUrl, `https://${s.namespace}/owa`, `${srv.name}'s OWA URL`);
      assert.strictEqual(srv.rpc.internalClientAuthenticationMethod, "Negotiate", `${srv.name}'s Outlook Anywhere auth`);
    }
    await op(s, "preview --expect-no-changes", () => s.cli.preview(["--expect-no-changes"]));
    if (opts.doctor !== false) await doctor(s);
  }

  async function urnOf(s: Site, type: string): Promise<string> {
    const r = resourcesOf(await s.cli.exportStack()).find((x) => x.type.endsWith(`:${type}`));
    assert.ok(r, `a ${type} in ${s.stack}'s state`);
    return r.urn;
  }

  before(async function () {
    lab = await startLab(labAddr(46));
    sh = new KerberosShell(lab);
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    for (const s of sites) {
      await s.cli.run(["config", "rm", "lifecycle:protect", "--stack", s.stack]).catch(() => undefined);
      await s.cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await s.cli.dispose();
    }
    sh?.cleanup();
  });

  it("up --replace of every resource type, then state taint: each replaced delete-first, AD and the servers as declared after each", async function () {
    const s = await site("a");
    for (const type of ["DnsRecord", "AsaComputerAccount", "AsaPassword", "Spn", "AsaBinding", "ExchangeVirtualDirectoryUrls", "OutlookAnywhereAuth"]) {
      const urn = await urnOf(s, type);
      const r = await op(s, `up --replace ${type}`, () => s.cli.up(["--replace", urn]));
      assert.match(r.stdout, /replaced/, `${type} was replaced:\n${r.stdout}`);
      // The doctor once at the end: MIT's kvno with a keytab from the password in state proves
      // the ticket after each replacement already.
      await declared(s, { doctor: false });
    }
    const binding = await urnOf(s, "AsaBinding");
    await op(s, "state taint", () => s.cli.run(["state", "taint", binding, "--yes", "--stack", s.stack]));
    const r = await op(s, "up (tainted binding)", () => s.cli.up());
    assert.match(r.stdout, /replaced/, r.stdout);
    await declared(s, { doctor: false });
    // A user who turns delete-first off (a transform: the component's own option does not reach its
    // children) and forces a replacement: the create finds its account still held by the resource
    // it replaces, and refuses instead of taking it over for the delete that would follow.
    await s.cli.setConfig("lifecycle:createFirst", "true");
    const asaUrn = await urnOf(s, "AsaComputerAccount");
    const sid = ldapsearch(lab, lab.baseDn, `(sAMAccountName=${s.asaName}$)`, ["objectSid"], { binary: "base64" })[0].objectsid;
    const refused = await s.scan.during(() => s.cli.up(["--replace", asaUrn], { okCodes: [255, 1] }));
    assert.match(refused.stdout + refused.stderr, /is held by urn:pulumi:[^ ]*AsaComputerAccount::site-asa in this stack's state/, refused.stdout + refused.stderr);
    assert.deepStrictEqual(ldapsearch(lab, lab.baseDn, `(sAMAccountName=${s.asaName}$)`, ["objectSid"], { binary: "base64" })[0].objectsid, sid, "the ASA is the same account, untouched");
    await s.cli.run(["config", "rm", "lifecycle:createFirst", "--stack", s.stack]);
    await declared(s);
    await op(s, "destroy", () => s.cli.destroy());
    assert.deepStrictEqual(ldapsearch(lab, lab.baseDn, `(sAMAccountName=${s.asaName}$)`, ["dn"]), [], "the ASA the stack created is deleted");
    assert.strictEqual(dig(lab, s.namespace, "A").status, "NXDOMAIN");
  });

  it("protect on the component: destroy is refused and names it; without it, destroy goes ahead", async function () {
    const s = await site("p", { "lifecycle:protect": "true" });
    const refused = await s.cli.destroy([], { okCodes: [255, 1] });
    assert.match(refused.stdout + refused.stderr, /protected/i, refused.stdout + refused.stderr);
    assert.ok(ldapsearch(lab, lab.baseDn, `(sAMAccountName=${s.asaName}$)`, ["dn"]).length === 1, "nothing was deleted");
    await s.cli.run(["config", "rm", "lifecycle:protect", "--stack", s.stack]);
    await op(s, "up (unprotect)", () => s.cli.up());
    await op(s, "destroy", () => s.cli.destroy());
    assert.deepStrictEqual(ldapsearch(lab, lab.baseDn, `(sAMAccountName=${s.asaName}$)`, ["dn"]), []);
  });

  it("stack rename: no changes after; refresh reads the renamed stack's config, never a new stack under the old name; so does destroy after state move", async function () {
    const s = await site("r");
    await op(s, "stack rename", () => s.cli.run(["stack", "rename", "lc-r2", "--stack", s.stack]));
    s.stack = "lc-r2";
    s.cli.stack = "lc-r2";
    await op(s, "preview --expect-no-changes (renamed)", () => s.cli.preview(["--expect-no-changes"]));
    // A stack made under the old name whose DC answers nobody (nothing listens at that address):
    // reading its config instead of the renamed stack's would fail the refresh.
    const decoy = labAddr(249);
    await s.cli.run(["stack", "init", "lc-r"]);
    await s.cli.run(["config", "set", "exchange-kerberos:ldapUrl", `ldaps://${decoy}`, "--stack", "lc-r"]);
    await s.cli.run(["stack", "select", "lc-r2"]);
    await op(s, "refresh --expect-no-changes (renamed)", () => s.cli.refresh(["--expect-no-changes"]));
    // A new name for the ASA's SPN after the rename: its mark is the one state recorded.
    await declared(s);
    // state move: every resource to lc-r3 (the same config), then the source's DC is made to answer
    // nobody; destroy of lc-r3 reads lc-r3's config.
    const urns = resourcesOf(await s.cli.exportStack()).map((x) => x.urn).filter((u) => !u.includes("::pulumi:pulumi:Stack::") && !u.includes("::pulumi:providers:"));
    await s.cli.run(["stack", "init", "lc-r3"]);
    s.stack = "lc-r3";
    s.cli.stack = "lc-r3";
    await configure(s);
    await op(s, "state move", () => s.cli.run(["state", "move", "--source", "lc-r2", "--dest", "lc-r3", "--yes", ...urns]));
    await s.cli.run(["config", "set", "exchange-kerberos:ldapUrl", `ldaps://${decoy}`, "--stack", "lc-r2"]);
    await op(s, "refresh (moved)", () => s.cli.refresh());
    await op(s, "destroy (moved)", () => s.cli.destroy());
    assert.deepStrictEqual(ldapsearch(lab, lab.baseDn, `(sAMAccountName=${s.asaName}$)`, ["dn"]), [], "the moved stack's destroy deleted its ASA");
    assert.strictEqual(dig(lab, s.namespace, "A").status, "NXDOMAIN");
  });

  it("retainOnDelete on the component through an ASA rename and destroy: the SPNs move to the new ASA, and destroy leaves a working site", async function () {
    const s = await site("t", { "lifecycle:retainOnDelete": "true" });
    const old = s.asaName;
    s.asaName = `${old}N`;
    await s.cli.setConfig("exchange-kerberos:asaName", s.asaName);
    await op(s, "up (rename the ASA, retained)", () => s.cli.up());
    // The old ASA is retained (that is what retainOnDelete asks for) but holds no SPN any more.
    const [kept] = ldapsearch(lab, lab.baseDn, `(sAMAccountName=${old}$)`, ["servicePrincipalName"]);
    assert.ok(kept, `${old}$ is retained`);
    assert.deepStrictEqual(kept.serviceprincipalname ?? [], [], `${old}$ holds no SPN: they moved to ${s.asaName}$`);
    await declared(s);
    const password = String((await s.cli.stackOutputs({ showSecrets: true })).asaPassword);
    await op(s, "destroy (retained)", () => s.cli.destroy());
    const d = await run(process.execPath, [CLI, "doctor", "--no-stack", "--namespace", s.namespace, "--server", "EX1", "--server", "EX2", "--extra-spn-name", s.extra,
      "--dns-address", "192.0.2.61", "--dns-address", "192.0.2.62", "--asa-name", s.asaName, "--ldap-url", lab.ldapUrl, "--ldap-ca-file", lab.caFile, "--ldap-bind-user", lab.adminUser,
      "--krb5-config", lab.krb5Conf, "--exchange-shell", standinExecutable(), "--https-check", "false", "--asa-password-stdin"], {
      env: { ...s.cli.environment(), EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD: lab.adminPassword }, input: `${password}\n`, timeoutMs: 120_000,
    });
    assert.strictEqual(d.code, 0, `doctor --no-stack after a retained destroy:\n${d.stdout}${d.stderr}`);
    // The lab's now: removed by hand.
    for (const n of [old, s.asaName]) await sambaTool(lab, ["computer", "delete", n]).catch(() => undefined);
    for (const a of ["192.0.2.61", "192.0.2.62"]) await sambaTool(lab, ["dns", "delete", lab.addr, lab.domain, s.namespace.split(".")[0], "A", a]).catch(() => undefined);
  });

  it("a DnsRecord changes type A → CNAME → A: each previews, applies, and leaves nothing to do", async function () {
    const s = await site("d", { "lifecycle:recordName": "legacy-d", "lifecycle:recordType": "A", "lifecycle:recordValues": '["192.0.2.71"]' });
    const name = `legacy-d.${lab.domain}`;
    assert.deepStrictEqual(dig(lab, name, "A").answers, ["192.0.2.71"]);
    for (const [type, values, expected] of [["CNAME", `["${s.namespace}"]`, `${s.namespace}.`], ["A", '["192.0.2.72"]', "192.0.2.72"]] as const) {
      await s.cli.setConfig("lifecycle:recordType", type);
      await s.cli.setConfig("lifecycle:recordValues", values);
      await op(s, `preview (→ ${type})`, () => s.cli.preview());
      await op(s, `up (→ ${type})`, () => s.cli.up());
      assert.deepStrictEqual(dig(lab, name, type).answers, [expected], `${name} is a ${type}`);
      await op(s, `preview --expect-no-changes (${type})`, () => s.cli.preview(["--expect-no-changes"]));
    }
    await op(s, "destroy", () => s.cli.destroy());
    assert.strictEqual(dig(lab, name, "A").status, "NXDOMAIN");
  });
});
