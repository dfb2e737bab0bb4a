// Taking over a rollout done by hand (issue 16): a manual rollout is built in the lab the way the
// how-to does it — the ASA made and its password set with ldapmodify, its HTTP/ SPNs and AES
// encryption types, the namespace's A record with samba-tool, and on the Exchange stand-in (a TEST
// DOUBLE, not Exchange) the URLs, Negotiate and the ASA credential, with the password the test
// chose. Then, through the real pulumi CLI: `discover` writes the stack file; `pulumi preview`
// plans the takeover; `pulumi up`; `pulumi preview --expect-no-changes`; the doctor.
//
// A new stack plans every resource as a create (dynamic resources cannot be `pulumi import`ed), so
// "nothing else" is asserted where it shows: the preview plans exactly the site's resources, no
// update, replace or delete; it says that the ASA's password is rotated and names what is missing
// (an `adopt:` line per adopted resource whose create changes something) and nothing else;
// `discover` lists the same; and after `up`, AD and the stand-in changed exactly there — the
// password (on every server, then AD) and the missing binding — while the record, the SOA serial,
// the SPNs, the URLs and Negotiate are untouched (no Set- call reached the stand-in for them).
//
// One lab, manual rollouts side by side (each its own namespace, ASA and stand-in state, and its
// own pulumi backend), run at once: fully done (only the rotation), partly done (no SPN yet: the
// rotation and the SPN), one server without the credential (the rotation and that binding; then
// up, no changes, the doctor, and destroy, which releases what existed before the stack: the site
// keeps working, as `doctor --no-stack` proves); an SPN on another account too (SPN_DUPLICATE) and
// only on another account (SPN_WRONG_ACCOUNT), each refused by the preview as discover announces,
// before anything is written; and an ASA that is a user account (ASA_NOT_A_COMPUTER), moved to a
// computer ASA the way discover's fix says.
import * as assert from "assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dig, ldapmodify, ldapsearch, rawSpn, soaSerial } from "../fixtures/admin-tools";
import { Lab, labAddr, run, sambaTool, startLab } from "../fixtures/lab";
import { PulumiCli, PulumiCliError, REPO_ROOT } from "../fixtures/pulumi-cli";
import { editServer, getServer, readState, seedServers, standinExecutable, StandinServer } from "../fixtures/exchange-standin/state";
import { resourceKey } from "../fixtures/resource-key";

const SERVERS = ["EX1", "EX2", "EX3"];

type Plan = Record<string, string>;

interface PreviewJson {
  steps?: { op: string; urn: string; newState?: { type?: string; inputs?: Record<string, unknown> }; oldState?: { type?: string; inputs?: Record<string, unknown> } }[];
  diagnostics?: { message?: string; severity?: string }[];
}

function planOf(p: PreviewJson): Plan {
  const plan: Plan = {};
  for (const s of p.steps ?? []) {
    if (s.op === "same") continue;
    const state = s.newState ?? s.oldState;
    const key = resourceKey(state?.type ?? s.urn.split("::")[2], { ...(s.oldState?.inputs ?? {}), ...(s.newState?.inputs ?? {}) });
    if (key) plan[key] = s.op;
  }
  return plan;
}

/** One manual rollout: its namespace's first label, ASA, addresses, and what was left undone. */
interface Manual {
  label: string;
  asa: string;
  addresses: string[];
  spns: boolean;
  unbound: string[];
  /** The ASA is a user account (no $), as some sites have it. */
  user?: boolean;
}

const CASES: Record<"full" | "partial" | "main" | "dup" | "wrong" | "user", Manual> = {
  full: { label: "mail-full", asa: "FULL-ASA", addresses: ["192.0.2.31"], spns: true, unbound: [] },
  partial: { label: "mail-part", asa: "PART-ASA", addresses: ["192.0.2.41"], spns: false, unbound: [] },
  main: { label: "outlook", asa: "MANUAL-ASA", addresses: ["192.0.2.21", "192.0.2.22"], spns: true, unbound: ["EX3"] },
  dup: { label: "mail-dup", asa: "DUP-ASA", addresses: ["192.0.2.51"], spns: true, unbound: [] },
  wrong: { label: "mail-wrong", asa: "WRONG-ASA", addresses: ["192.0.2.52"], spns: false, unbound: [] },
  user: { label: "mail-user", asa: "svc-exch", addresses: ["192.0.2.53"], spns: true, unbound: [], user: true },
} as const;

describe("discover: a rollout done by hand becomes a site stack (real CLI, lab DC, Exchange stand-in)", function () {
  this.timeout(300_000);

  let lab: Lab;
  const manualPassword = `Manual-${process.pid}-Pa55!word`;
  const times: Record<string, number> = {};
  const t0 = Date.now();
  const running: Partial<Record<keyof typeof CASES, Promise<void>>> = {};

  /** A site's view of one manual rollout: its own stand-in state and its own pulumi backend. */
  class Site {
    readonly namespace: string;
    readonly autodiscover: string;
    readonly asaDn: string;
    readonly stateFile: string;
    /** The ASA's sAMAccountName, as the credential names it. */
    readonly account: string;
    cli!: PulumiCli;
    constructor(readonly name: keyof typeof CASES, readonly m: Manual) {
      this.namespace = `${m.label}.${lab.domain}`;
      this.autodiscover = `autodiscover-${m.label}.${lab.domain}`;
      this.asaDn = `CN=${m.asa},OU=Service Accounts,${lab.baseDn}`;
      this.account = `${m.asa}${m.user ? "" : "$"}`;
      this.stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    }

    /** The rollout by hand: the ASA with the test's password and AES, its SPNs, the record; on
     * the stand-in the URLs, Negotiate and the credential (but on `unbound`). */
    async build(): Promise<void> {
      this.cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: this.stateFile } });
      const pwd = Buffer.from(`"${manualPassword}"`, "utf16le").toString("base64");
      // A computer account (UF_WORKSTATION_TRUST_ACCOUNT), or a user (UF_NORMAL_ACCOUNT) for `user`.
      ldapmodify(lab, `dn: ${this.asaDn}\nchangetype: add\nobjectClass: ${this.m.user ? "user" : "computer"}\nsAMAccountName: ${this.account}\nuserAccountControl: ${this.m.user ? 512 : 4096}\nmsDS-SupportedEncryptionTypes: 24\nunicodePwd:: ${pwd}\n`);
      if (this.m.spns) ldapmodify(lab, `dn: ${this.asaDn}\nchangetype: modify\nadd: servicePrincipalName\nservicePrincipalName: HTTP/${this.namespace}\nservicePrincipalName: HTTP/${this.autodiscover}\n`);
      for (const a of this.m.addresses) await sambaTool(lab, ["dns", "add", lab.addr, lab.domain, this.m.label, "A", a]);
      seedServers(this.stateFile, SERVERS.map((name) => ({ name, version: "2019" as const })));
      for (const s of SERVERS) editServer(this.stateFile, s, (x) => this.serverByHand(x, !this.m.unbound.includes(s)));
    }

    serverByHand(s: StandinServer, bound: boolean): void {
      for (const k of Object.keys(s.vdirs) as (keyof StandinServer["vdirs"])[]) {
        const p = { owa: "/owa", ecp: "/ecp", ews: "/EWS/Exchange.asmx", oab: "/OAB", activeSync: "/Microsoft-Server-ActiveSync", mapi: "/mapi" }[k];
        s.vdirs[k].internalUrl = `https://${this.namespace}${p}`;
      }
      s.autoDiscoverServiceInternalUri = `https://${this.namespace}/Autodiscover/Autodiscover.xml`;
      s.rpc.internalHostname = this.namespace;
      s.rpc.internalClientsRequireSsl = true;
      s.rpc.internalClientAuthenticationMethod = "Negotiate";
      s.asa = bound ? [{ userName: `${lab.netbios}\\${this.account}`, password: manualPassword, whenAddedUtc: new Date(Date.now() - 3600_000).toISOString() }] : [];
    }

    /** `discover --site NAME`, as a user runs it; the stack file it wrote, as key → value. */
    async discover(extra: string[] = [], expectCode = 0): Promise<{ out: string; config: Record<string, string> }> {
      const args = [
        path.join(REPO_ROOT, "dist", "provider", "cli.js"), "discover", "--servers", SERVERS.join(","), "--site", this.name, "--cwd", this.cli.projectDir,
        "--ldap-url", lab.ldapUrl, "--ldap-ca-file", lab.caFile, "--ldap-bind-user", lab.adminUser, "--gc-url", lab.gcUrl,
        "--exchange-shell", standinExecutable(), "--krb5-config", lab.krb5Conf, "--https-check", "false", ...extra,
      ];
      const r = await run(process.execPath, args, { env: this.cli.environment({ EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD: lab.adminPassword }), timeoutMs: 60_000 });
      assert.strictEqual(r.code, expectCode, `discover exited ${r.code}:\n${r.stdout}${r.stderr}`);
      if (expectCode !== 0) return { out: r.stdout + r.stderr, config: {} };
      const file = fs.readFileSync(path.join(this.cli.projectDir, `Pulumi.${this.name}.yaml`), "utf8");
      for (const secret of [lab.adminPassword, manualPassword]) {
        assert.ok(!file.includes(secret), "no password in the stack file");
        assert.ok(!(r.stdout + r.stderr).includes(secret), "no password in discover's output");
      }
      const config: Record<string, string> = {};
      for (const m of file.matchAll(/^  exchange-kerberos:(\w+): (.*)$/gm)) config[m[1]] = m[2].startsWith("'") ? m[2].slice(1, -1).replace(/''/g, "'") : m[2];
      return { out: r.stdout, config };
    }

    /** The user's steps after discover: stack init (which takes the file), the bind password, preview. */
    async preview(): Promise<{ plan: Plan; warnings: string }> {
      await this.cli.initStack(this.name);
      await this.cli.setConfig("exchange-kerberos:ldapBindPassword", lab.adminPassword, { secret: true });
      const p = JSON.parse((await this.cli.preview(["--json"])).stdout) as PreviewJson;
      return { plan: planOf(p), warnings: (p.diagnostics ?? []).map((d) => d.message ?? "").join("\n") };
    }

    /** Every resource of the site as a create: the takeover by a new stack. */
    creates(spnHosts: string[]): Plan {
      const plan: Plan = { dns: "create", asa: "create", "asa-password": "create" };
      for (const s of SERVERS) Object.assign(plan, { [`urls:${s}`]: "create", [`bind:${s}`]: "create", [`auth:${s}`]: "create" });
      for (const h of spnHosts) plan[`spn:HTTP/${h}`] = "create";
      return plan;
    }

    /** What the preview says each adopted resource's create changes (besides the rotation). */
    notes(warnings: string): string[] {
      return [...new Set([...warnings.matchAll(/^adopt: (.*)$/gm)].map((m) => m[1]))].sort();
    }

    /** The rotation's line for each server that already holds the ASA's credential. */
    rotated(...servers: string[]): string[] {
      return servers.map((s) => `${s} holds ${lab.netbios}\\${this.m.asa}$'s credential: this up binds its new password there (the rotation), before AD's is set`);
    }

    /** The preview says that the ASA's password is rotated, servers first. */
    assertRotation(warnings: string): void {
      assert.match(warnings, new RegExp(`${this.m.asa}\\$ .*taken over \\(adopt\\): its current password cannot be read, so this up rotates it — every AsaBinding binds the new password on its server first, then AsaPassword sets it in AD`), `the preview says the ASA's password is rotated:\n${warnings}`);
    }

    /** The settings every case's stack file proposes. */
    assertProposed(config: Record<string, string>): void {
      for (const [k, v] of Object.entries({
        namespace: this.namespace,
        servers: JSON.stringify(SERVERS),
        dnsZone: lab.domain,
        dnsAddresses: JSON.stringify(this.m.addresses),
        asaName: this.m.asa,
        asaOu: `OU=Service Accounts,${lab.baseDn}`,
        asaEncryptionTypes: "24",
        adopt: "true",
        ldapUrl: lab.ldapUrl,
        ldapBindUser: lab.adminUser,
      })) assert.strictEqual(config[k], v, `the stack file's ${k}`);
      assert.strictEqual(config.ldapBindPassword, undefined, "no bind password in the stack file");
    }

    /** Where the record lives (samba-tool's zone in DomainDnsZones). */
    recordDn(): string {
      return `DC=${this.m.label},DC=${lab.domain},CN=MicrosoftDNS,DC=DomainDnsZones,${lab.baseDn}`;
    }
  }

  /** discover's numbered list of what up changes. */
  function upLines(out: string): string[] {
    return [...out.matchAll(/^\s+\d+\. (.*)$/gm)].map((m) => m[1]);
  }

  async function timed(name: string, fn: () => Promise<void>): Promise<void> {
    const t = Date.now();
    try {
      await fn();
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    } finally {
      times[name] = (Date.now() - t) / 1000;
    }
  }

  const sites: Partial<Record<keyof typeof CASES, Site>> = {};

  async function fullCase(site: Site): Promise<void> {
    const d = await site.discover();
    site.assertProposed(d.config);
    assert.strictEqual(d.config.extraSpnNames, JSON.stringify([site.autodiscover]), "the extra SPN name found on the ASA");
    assert.doesNotMatch(d.out, /inconsistencies/, d.out);
    const lines = upLines(d.out);
    assert.strictEqual(lines.length, 1, `up does only the rotation:\n${d.out}`);
    assert.match(lines[0], new RegExp(`rotates the password of ${lab.netbios}\\\\${site.m.asa}\\$.*first on the 3 servers .*then in AD`));
    const p = await site.preview();
    assert.deepStrictEqual(p.plan, site.creates([site.namespace, site.autodiscover]), "the preview's plan, per resource");
    site.assertRotation(p.warnings);
    assert.deepStrictEqual(site.notes(p.warnings), site.rotated(...SERVERS).sort(), "the preview names the rotation on every server, and nothing else");
  }

  async function partialCase(site: Site): Promise<void> {
    // --servers all reads Exchange's servers from AD's Configuration partition; Samba's schema has
    // no Exchange classes, so here it must stop cleanly, saying what to give instead.
    const all = await run(process.execPath, [path.join(REPO_ROOT, "dist", "provider", "cli.js"), "discover", "--servers", "all", "--print", "--ldap-url", lab.ldapUrl, "--ldap-ca-file", lab.caFile, "--ldap-bind-user", lab.adminUser, "--exchange-shell", standinExecutable()], { env: site.cli.environment({ EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD: lab.adminPassword }), timeoutMs: 60_000 });
    assert.strictEqual(all.code, 2, all.stdout + all.stderr);
    assert.strictEqual(all.stderr.trim(), "pulumi-exchange-kerberos discover: no Exchange servers were found in the Configuration partition. Fix: give the Client Access servers with --servers EX1,EX2", all.stderr);
    const d = await site.discover();
    site.assertProposed(d.config);
    assert.match(d.out, new RegExp(`SPN_MISSING  HTTP/${site.namespace}: no account holds HTTP/${site.namespace}`), d.out);
    assert.strictEqual(d.config.extraSpnNames, undefined, "no extra SPN name is guessed");
    const lines = upLines(d.out);
    assert.strictEqual(lines.length, 2, d.out);
    assert.match(lines[0], /rotates the password/);
    assert.match(lines[1], new RegExp(`HTTP/${site.namespace}: adds it to ${lab.netbios}\\\\${site.m.asa}\\$`));
    const p = await site.preview();
    assert.deepStrictEqual(p.plan, site.creates([site.namespace]), "the preview's plan, per resource");
    site.assertRotation(p.warnings);
    assert.deepStrictEqual(site.notes(p.warnings), [...site.rotated(...SERVERS), `no account holds HTTP/${site.namespace} (SPN_MISSING): this up adds it to the ASA`].sort(), "the preview names the rotation on every server and the SPN, and nothing else");
  }

  async function mainCase(site: Site): Promise<void> {
    const d = await site.discover();
    site.assertProposed(d.config);
    assert.match(d.out, /SERVER_NO_ASA  EX3: EX3 holds no ASA credential/, d.out);
    const lines = upLines(d.out);
    assert.strictEqual(lines.length, 2, d.out);
    assert.match(lines[0], /rotates the password/);
    assert.match(lines[1], new RegExp(`EX3: binds ${lab.netbios}\\\\${site.m.asa}\\$ on EX3`));
    const p = await site.preview();
    assert.deepStrictEqual(p.plan, site.creates([site.namespace, site.autodiscover]), "the preview's plan, per resource");
    site.assertRotation(p.warnings);
    assert.deepStrictEqual(site.notes(p.warnings), [...site.rotated(...SERVERS.filter((s) => s !== "EX3")), `EX3 holds no ASA credential (SERVER_NO_ASA): this up binds ${lab.netbios}\\${site.m.asa}$ there`].sort(), "the preview names the rotation on the bound servers and the missing binding, and nothing else");

    // What up may touch, read before it runs.
    const before = readState(site.stateFile);
    const serial = soaSerial(lab);
    const records = (): string[] | undefined => ldapsearch(lab, site.recordDn(), "(objectClass=*)", ["dnsRecord"], { binary: "base64" })[0]?.dnsrecord?.sort();
    const recordsBefore = records();
    const asa = (): Record<string, string[]> => ldapsearch(lab, lab.baseDn, `(sAMAccountName=${site.m.asa}$)`, ["pwdLastSet", "servicePrincipalName", "msDS-SupportedEncryptionTypes"])[0];
    const asaBefore = asa();

    await site.cli.up();

    const after = readState(site.stateFile);
    const password = String((await site.cli.stackOutputs({ showSecrets: true })).asaPassword);
    assert.notStrictEqual(password, manualPassword, "a new password");
    for (const s of SERVERS) {
      const was = before.servers[s.toLowerCase()];
      const now = getServer(site.stateFile, s);
      assert.strictEqual(now.asa[0]?.userName, `${lab.netbios}\\${site.m.asa}$`, `${s} holds the ASA`);
      assert.ok(now.asa[0]?.password === password, `${s} holds the new password`);
      assert.deepStrictEqual({ vdirs: now.vdirs, rpc: now.rpc, ad: now.autoDiscoverServiceInternalUri }, { vdirs: was.vdirs, rpc: was.rpc, ad: was.autoDiscoverServiceInternalUri }, `${s}'s URLs and Negotiate are untouched`);
    }
    const calls = (op: string): number => (after.counters.callsPerOperation[op] ?? 0) - (before.counters.callsPerOperation[op] ?? 0);
    assert.strictEqual(calls("Set-EkVdirUrls"), 0, "no URL was set");
    assert.strictEqual(calls("Set-EkOutlookAuth"), 0, "no authentication was set");
    assert.strictEqual(calls("Set-EkAsaCredential"), SERVERS.length, "each server bound once");
    const asaAfter = asa();
    assert.notDeepStrictEqual(asaAfter.pwdlastset, asaBefore.pwdlastset, "AD's password was set");
    assert.deepStrictEqual(asaAfter.serviceprincipalname.sort(), asaBefore.serviceprincipalname.sort(), "the SPNs are untouched");
    assert.deepStrictEqual(asaAfter["msds-supportedencryptiontypes"], asaBefore["msds-supportedencryptiontypes"], "the encryption types are untouched");
    assert.deepStrictEqual(records(), recordsBefore, "the A records are untouched");
    assert.strictEqual(soaSerial(lab), serial, "the zone's serial is unchanged: no record changed");
    assert.deepStrictEqual(dig(lab, site.namespace, "A").answers, site.m.addresses, "the namespace resolves as before");

    // Both read-only: at once.
    const noChanges = site.cli.preview(["--expect-no-changes"]);
    const doctor = await run(process.execPath, [path.join(REPO_ROOT, "dist", "provider", "cli.js"), "doctor", "--stack", "main", "--cwd", site.cli.projectDir], { env: site.cli.environment(), timeoutMs: 120_000 });
    await noChanges;
    assert.strictEqual(doctor.code, 0, `the doctor:\n${doctor.stdout}${doctor.stderr}`);

    // Destroy: everything existed before the stack (adopted), so it is released, not deleted —
    // including EX3's new credential, which the ASA that stays needs on every server.
    const servers = readState(site.stateFile).servers;
    const asaKept = asa();
    await site.cli.destroy();
    assert.deepStrictEqual(readState(site.stateFile).servers, servers, "every server as the stack left it: credential, URLs, Negotiate");
    assert.deepStrictEqual(asa(), asaKept, "the ASA with its SPNs, password and encryption types");
    assert.deepStrictEqual(dig(lab, site.namespace, "A").answers, site.m.addresses, "the namespace still resolves");
    const marks = ldapsearch(lab, lab.baseDn, `(sAMAccountName=${site.m.asa}$)`, ["adminDescription"])[0]?.admindescription;
    assert.strictEqual(marks, undefined, "the stack's mark is gone from the released ASA (it had no adminDescription before)");
    const noStack = await run(process.execPath, [path.join(REPO_ROOT, "dist", "provider", "cli.js"), "doctor", "--no-stack", "--cwd", site.cli.projectDir,
      "--namespace", site.namespace, ...SERVERS.flatMap((x) => ["--server", x]), "--extra-spn-name", site.autodiscover, ...site.m.addresses.flatMap((a) => ["--dns-address", a]),
      "--asa-name", site.m.asa, "--ldap-url", lab.ldapUrl, "--ldap-ca-file", lab.caFile, "--ldap-bind-user", lab.adminUser, "--krb5-config", lab.krb5Conf,
      "--exchange-shell", standinExecutable(), "--https-check", "false", "--asa-password-stdin"], {
      env: site.cli.environment({ EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD: lab.adminPassword }), input: `${password}\n`, timeoutMs: 120_000,
    });
    assert.strictEqual(noStack.code, 0, `Kerberos still works after destroy (doctor --no-stack):\n${noStack.stdout}${noStack.stderr}`);
  }

  /** The preview refuses an SPN another account holds, as discover announced with `code`, naming the
   * holder; nothing is written (the ASA's password, the servers). */
  async function refusedCase(site: Site, code: "SPN_DUPLICATE" | "SPN_WRONG_ACCOUNT"): Promise<void> {
    const d = await site.discover();
    assert.match(d.out, new RegExp(`${code}  HTTP/${site.namespace}: .*LEGACYWEB.*up: nothing: preview refuses`), d.out);
    await site.cli.initStack(site.name);
    await site.cli.setConfig("exchange-kerberos:ldapBindPassword", lab.adminPassword, { secret: true });
    const pwdBefore = ldapsearch(lab, lab.baseDn, `(sAMAccountName=${site.m.asa}$)`, ["pwdLastSet"])[0].pwdlastset;
    const before = readState(site.stateFile);
    const p = await site.cli.preview([], { okCodes: [1, 255] });
    const out = p.stdout + p.stderr;
    assert.match(out, new RegExp(`HTTP/${site.namespace} is already held by CN=LEGACYWEB,[^ ]* \\(${code}`), out);
    assert.doesNotMatch(out, /\n\s+at /, "no stack trace");
    assert.deepStrictEqual(ldapsearch(lab, lab.baseDn, `(sAMAccountName=${site.m.asa}$)`, ["pwdLastSet"])[0].pwdlastset, pwdBefore, "the ASA's password is untouched");
    const after = readState(site.stateFile);
    assert.deepStrictEqual(after.servers, before.servers, "the servers are untouched");
    assert.deepStrictEqual(Object.keys(after.counters.callsPerOperation).filter((op) => /^(Set|Remove)-/.test(op) && after.counters.callsPerOperation[op] !== before.counters.callsPerOperation[op]), [], "no Set- or Remove- call");
  }

  /**
   * An ASA that is a user account: discover names it (ASA_NOT_A_COMPUTER), never as missing, and
   * its way out works as written: discover again with --asa-name and --asa-ou, remove the SPNs from
   * the user right before up (preview refuses them until then), up, the doctor.
   */
  async function userCase(site: Site): Promise<void> {
    const first = await site.discover([], 2);
    assert.match(first.out, new RegExp(`CORP\\\\svc-exch \\(CN=svc-exch,[^)]*\\) is a user, not a computer account \\(ASA_NOT_A_COMPUTER\\)`), first.out);
    assert.doesNotMatch(first.out, /ASA_MISSING|not in the directory/, first.out);
    assert.match(first.out, /--asa-name NAME --asa-ou/, "the fix names the flags to give");
    const d = await site.discover(["--asa-name", "USER-ASA2", "--asa-ou", `OU=Service Accounts,${lab.baseDn}`]);
    assert.strictEqual(d.config.asaName, "USER-ASA2");
    assert.strictEqual(d.config.adopt, "true");
    assert.match(d.out, /ASA_NOT_A_COMPUTER  CORP\\svc-exch/, d.out);
    await site.cli.initStack(site.name);
    await site.cli.setConfig("exchange-kerberos:ldapBindPassword", lab.adminPassword, { secret: true });
    const refused = await site.cli.preview([], { okCodes: [1, 255] });
    assert.match(refused.stdout + refused.stderr, new RegExp(`HTTP/(${site.namespace}|${site.autodiscover}) is already held by CN=svc-exch,OU=Service Accounts,${lab.baseDn} \\(SPN_WRONG_ACCOUNT`), `until the SPNs leave the user account:\n${refused.stdout}${refused.stderr}`);
    for (const h of [site.namespace, site.autodiscover]) await sambaTool(lab, ["spn", "delete", `HTTP/${h}`, "svc-exch"]);
    await site.cli.up();
    await site.cli.preview(["--expect-no-changes"]);
    for (const s of SERVERS) assert.strictEqual(getServer(site.stateFile, s).asa[0]?.userName, `${lab.netbios}\\USER-ASA2$`, `${s} holds the new computer ASA`);
    const doctor = await run(process.execPath, [path.join(REPO_ROOT, "dist", "provider", "cli.js"), "doctor", "--stack", site.name, "--cwd", site.cli.projectDir], { env: site.cli.environment(), timeoutMs: 120_000 });
    assert.strictEqual(doctor.code, 0, `the doctor:\n${doctor.stdout}${doctor.stderr}`);
  }

  before(async function () {
    lab = await startLab(labAddr(19));
    times.lab = (Date.now() - t0) / 1000;
    for (const name of Object.keys(CASES) as (keyof typeof CASES)[]) sites[name] = new Site(name, CASES[name]);
    await Promise.all(Object.values(sites).map((s) => s!.build()));
    // The namespace's SPN on another account too (a duplicate Samba refuses over LDAP, as Windows
    // does since 2012 R2: written into the DC's database directly), or only on another account.
    // (samba-tool first: once the account holds a duplicate, Samba refuses any SPN change to it.)
    await sambaTool(lab, ["spn", "add", `HTTP/${sites.wrong!.namespace}`, "LEGACYWEB$"]);
    await rawSpn(lab, "add", `CN=LEGACYWEB,OU=Servers,${lab.baseDn}`, `HTTP/${sites.dup!.namespace}`);
    times.byHand = (Date.now() - t0) / 1000 - times.lab;
    // The three cases run at once (each its own rollout, stand-in and backend); each it awaits its own.
    running.full = timed("full", () => fullCase(sites.full!));
    running.partial = timed("partial", () => partialCase(sites.partial!));
    running.main = timed("main", () => mainCase(sites.main!));
    running.dup = timed("dup", () => refusedCase(sites.dup!, "SPN_DUPLICATE"));
    running.wrong = timed("wrong", () => refusedCase(sites.wrong!, "SPN_WRONG_ACCOUNT"));
    running.user = timed("user", () => userCase(sites.user!));
    for (const p of Object.values(running)) p!.catch(() => undefined);
  });

  after(async function () {
    await Promise.allSettled(Object.values(running));
    console.log(`      wall time (s): ${JSON.stringify({ ...times, total: (Date.now() - t0) / 1000 })}`);
    // No destroy: the lab (and all it holds) goes with the teardown that stops it, the stand-in's
    // state is a temporary file, and each backend goes with its scratch folder.
    for (const s of Object.values(sites)) await s?.cli?.dispose();
  });

  it("a fully done rollout: discover proposes it as it is, and the preview plans only the rotation", async function () {
    await running.full;
  });

  it("a partly done rollout (no SPN yet): the rotation and the SPN", async function () {
    await running.partial;
  });

  it("one server without the credential: up rotates the password and binds it there, and changes nothing else; no changes after; the doctor passes; destroy releases it all and Kerberos still works", async function () {
    await running.main;
  });

  it("an SPN on another account too (SPN_DUPLICATE): the preview refuses it as discover says, naming the holder, before anything is written", async function () {
    await running.dup;
  });

  it("an SPN only on another account (SPN_WRONG_ACCOUNT): the preview refuses it as discover says, naming the holder, before anything is written", async function () {
    await running.wrong;
  });

  it("an ASA that is a user account is named as one (ASA_NOT_A_COMPUTER), and discover's way out to a computer ASA works as written", async function () {
    await running.user;
  });
});
