// The change matrix: every change a user makes to a working site, made the way the README says —
// set the config, `pulumi preview`, `pulumi up` (which previews again first), then
// `pulumi preview --expect-no-changes` — through the real pulumi CLI, against a lab Samba AD DC and
// the Exchange stand-in (a TEST DOUBLE for Exchange). Each row asserts:
//   - the preview's plan, per resource: create / update / replace / delete, and which properties;
//   - `up` does exactly what the preview planned, and succeeds;
//   - `preview --expect-no-changes` then succeeds;
//   - the doctor exits 0;
//   - AD (read with ldapsearch and MIT's kvno) and the stand-in hold exactly what is declared, and
//     nothing else: no stray account, SPN, record or credential.
import * as assert from "assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dig, KerberosShell, ldapmodify, ldapsearch } from "../fixtures/admin-tools";
import { Lab, labAddr, run, sambaTool, startLab } from "../fixtures/lab";
import { PulumiCli, PulumiCliError, REPO_ROOT, resourcesOf } from "../fixtures/pulumi-cli";
import { editServer, readState, seedServers, seedWindowsHosts, standinExecutable, StandinServer, StandinWindowsHost } from "../fixtures/exchange-standin/state";
import { resourceKey } from "../fixtures/resource-key";

const STACK = "m";
const SERVICE_OU = "OU=Service Accounts";
const OTHER_OU = "OU=Kerberos Accounts";
/** The KDC proxy's certificate, in GW1's computer store (a stand-in Windows server). */
const KDC_CERT = "A1B2C3D4E5F60718293A4B5C6D7E8F9001122334";

/** The site as declared now; each row changes it, and the checks compare reality with it. */
interface Site {
  namespace: string;
  servers: string[];
  addresses: string[];
  asaName: string;
  asaOu: string;
  encryptionTypes?: number;
  extraSpnNames: string[];
  adopt?: boolean;
  kdcProxyServers?: string[];
  kdcProxyThumbprint?: string;
}

type Op = "create" | "update" | "replace" | "delete";
/** A plan: resource key (see resourceKey) → operation and, for update/replace, the properties that differ. */
type Plan = Record<string, { op: Op; props: string[] }>;

interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { type?: string; inputs?: Record<string, unknown> };
  newState?: { type?: string; inputs?: Record<string, unknown> };
  diffReasons?: string[];
  replaceReasons?: string[];
  detailedDiff?: Record<string, unknown> | null;
}

/**
 * The declared inputs an update changes, as the CLI shows them. The engine gets no per-property
 * reasons from a dynamic provider and prints secrets as "[secret]" on both sides, so a changed
 * password shows in the plan only as the update itself. The ASA's identity (sid, dn, names), which
 * its `check` carries forward for the preview, is not a declared input.
 */
function changedInputs(s: PreviewStep): string[] {
  if (s.op !== "update") return [];
  const olds = s.oldState?.inputs ?? {};
  const news = s.newState?.inputs ?? {};
  const carried = ["sid", "dn", "samAccountName", "qualifiedName", "__provider"];
  return [...new Set([...Object.keys(olds), ...Object.keys(news)])]
    .filter((k) => !carried.includes(k) && JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
}

/** The plan `pulumi preview --json` printed, per resource key. */
function planOf(json: string): Plan {
  const { steps } = JSON.parse(json) as { steps?: PreviewStep[] };
  const plan: Plan = {};
  for (const s of steps ?? []) {
    if (s.op === "same" || s.op === "read" || s.op === "refresh") continue;
    const state = s.newState ?? s.oldState;
    const type = state?.type ?? s.urn.split("::")[2];
    const key = resourceKey(type, { ...(s.oldState?.inputs ?? {}), ...(s.newState?.inputs ?? {}) });
    if (!key) continue;
    const op: Op = ["replace", "create-replacement", "delete-replaced"].includes(s.op) ? "replace" : (s.op as Op);
    const props = [...new Set([...(s.replaceReasons ?? []), ...(s.diffReasons ?? []), ...Object.keys(s.detailedDiff ?? {}), ...changedInputs(s)])]
      .map((p) => p.split(/[.[]/)[0])
      .filter((p) => p !== "__provider");
    const prev = plan[key];
    plan[key] = { op: prev?.op === "replace" ? "replace" : op, props: [...new Set([...(prev?.props ?? []), ...props])].sort() };
  }
  return plan;
}

/** What `pulumi up` reported doing, per resource name: created, updated, replaced, deleted. */
function doneOf(stdout: string): Record<string, string> {
  const done: Record<string, string> = {};
  for (const m of stdout.matchAll(/^\s*[+~\-±]+\s+\S+\s+(\S+)\s+(created|updated|replaced|deleted)\b/gm)) {
    done[m[1]] = done[m[1]] === "replaced" ? "replaced" : m[2];
  }
  return done;
}

/** Wall time of each row, printed at the end. */
const times: Record<string, number> = {};

describe("change matrix: every change a user makes previews and applies (real CLI, lab DC, Exchange stand-in)", function () {
  this.timeout(900_000);

  let lab: Lab;
  let cli: PulumiCli;
  let stateFile: string;
  let sh: KerberosShell;
  let site: Site;
  /** Every ASA name and SPN host name any row declared: none may be left where it no longer belongs. */
  const everAsa = new Set<string>();
  const everHosts = new Set<string>();
  const everNamespaces = new Set<string>();
  const original = new Map<string, StandinServer>();
  let originalGw1: StandinWindowsHost;

  async function declare(next: Partial<Site>): Promise<void> {
    const changed = { ...site, ...next };
    const values: Record<string, string | undefined> = {
      "exchange-kerberos:namespace": changed.namespace,
      "exchange-kerberos:servers": JSON.stringify(changed.servers),
      "exchange-kerberos:dnsAddresses": JSON.stringify(changed.addresses),
      "exchange-kerberos:asaName": changed.asaName,
      "exchange-kerberos:asaOu": changed.asaOu,
      "exchange-kerberos:asaEncryptionTypes": changed.encryptionTypes === undefined ? undefined : String(changed.encryptionTypes),
      "exchange-kerberos:extraSpnNames": JSON.stringify(changed.extraSpnNames),
      "exchange-kerberos:adopt": changed.adopt === undefined ? undefined : String(changed.adopt),
      "exchange-kerberos:kdcProxyServers": changed.kdcProxyServers === undefined ? undefined : JSON.stringify(changed.kdcProxyServers),
      "exchange-kerberos:kdcProxyThumbprint": changed.kdcProxyThumbprint,
    };
    const old = site as Site | undefined;
    for (const [key, value] of Object.entries(values)) {
      const field = key.split(":")[1];
      if (value === undefined) await cli.run(["config", "rm", key, "--stack", STACK]).catch(() => undefined);
      else if (!old || JSON.stringify((old as unknown as Record<string, unknown>)[fieldOf(field)]) !== JSON.stringify((changed as unknown as Record<string, unknown>)[fieldOf(field)])) await cli.setConfig(key, value);
    }
    site = changed;
    everAsa.add(site.asaName);
    for (const h of [site.namespace, ...site.extraSpnNames]) everHosts.add(h);
    everNamespaces.add(site.namespace);
  }

  function fieldOf(configKey: string): string {
    return ({ dnsAddresses: "addresses", asaEncryptionTypes: "encryptionTypes" } as Record<string, string>)[configKey] ?? configKey;
  }

  /** A new stack pointed at the lab and the stand-in, with no site declared yet. */
  async function newStack(): Promise<void> {
    await cli.selectStack(STACK);
    for (const [key, value] of Object.entries(lab.stackConfig)) await cli.setConfig(key, value, { secret: key.endsWith("Password") });
    await cli.setConfig("exchange-kerberos:exchangeShell", standinExecutable());
    await cli.setConfig("exchange-kerberos:krb5Config", lab.krb5Conf);
    // No web server stands behind these addresses: the doctor's check 8 (the HTTPS endpoint) is
    // proven against the lab's real front door in truth-table.test.ts.
    await cli.setConfig("exchange-kerberos:httpsCheck", "false");
    await cli.setConfig("exchange-kerberos:dnsZone", lab.domain);
    site = undefined as unknown as Site;
  }

  async function doctor(): Promise<{ code: number; out: string }> {
    const r = await run(process.execPath, [path.join(REPO_ROOT, "dist", "provider", "cli.js"), "doctor", "--stack", STACK, "--cwd", cli.projectDir], { env: cli.environment(), timeoutMs: 120_000 });
    return { code: r.code, out: r.stdout + r.stderr };
  }

  async function asaPassword(): Promise<string> {
    return String((await cli.stackOutputs({ showSecrets: true })).asaPassword);
  }

  /** AD and the stand-in hold exactly what `site` declares. */
  async function assertReality(): Promise<void> {
    const netbios = lab.netbios;
    const account = `${site.asaName}$`;
    const password = await asaPassword();
    // The ASA: in its OU, nowhere else; no ASA of an earlier row left anywhere.
    for (const ou of [SERVICE_OU, OTHER_OU]) {
      const names = ldapsearch(lab, `${ou},${lab.baseDn}`, "(objectClass=computer)", ["sAMAccountName"]).map((e) => e.samaccountname[0]);
      const expected = site.asaOu.startsWith(ou) ? [account] : [];
      assert.deepStrictEqual(names.filter((n) => [...everAsa].some((a) => `${a}$`.toUpperCase() === n.toUpperCase())), expected, `computer accounts in ${ou}`);
    }
    const [asa] = ldapsearch(lab, lab.baseDn, `(sAMAccountName=${account})`, ["msDS-SupportedEncryptionTypes", "userAccountControl", "servicePrincipalName"]);
    assert.ok(asa, `${account} exists`);
    assert.strictEqual(Number(asa["msds-supportedencryptiontypes"]?.[0]), site.encryptionTypes ?? 24, "msDS-SupportedEncryptionTypes");
    assert.strictEqual(Number(asa.useraccountcontrol[0]) & 2, 0, "the ASA is enabled");
    // SPNs: exactly the declared ones on the ASA, and no other account holds any host name used.
    const declared = [site.namespace, ...site.extraSpnNames].map((h) => `HTTP/${h}`.toLowerCase()).sort();
    assert.deepStrictEqual((asa.serviceprincipalname ?? []).map((s) => s.toLowerCase()).sort(), declared, "SPNs on the ASA");
    for (const host of everHosts) {
      const holders = ldapsearch(lab, lab.baseDn, `(servicePrincipalName=HTTP/${host})`, ["sAMAccountName"]).map((e) => e.samaccountname[0].toUpperCase());
      assert.deepStrictEqual(holders, declared.includes(`http/${host}`) ? [account.toUpperCase()] : [], `holders of HTTP/${host}`);
    }
    // MIT's kvno: a fresh service ticket decrypts with keys from the password the stack holds.
    sh.fresh();
    sh.kinitAdmin();
    const k = sh.kvno(`HTTP/${site.namespace}`);
    assert.strictEqual(k.status, 0, k.stderr);
    const kvno = Number(/kvno = (\d+)/.exec(k.stdout)?.[1]);
    const keytab = await sh.keytab(`HTTP/${site.namespace}`, account, password, kvno);
    assert.match(sh.kvno(`HTTP/${site.namespace}`, keytab).stdout, /keytab entry valid/, "a ticket decrypts with the ASA password in state");
    // DNS: the namespace resolves to exactly the declared addresses; earlier namespaces are gone.
    assert.deepStrictEqual(dig(lab, site.namespace, "A").answers, [...site.addresses].sort(), `A ${site.namespace}`);
    for (const ns of everNamespaces) {
      if (ns !== site.namespace) assert.strictEqual(dig(lab, ns, "A").status, "NXDOMAIN", `the record of the earlier namespace ${ns} is gone`);
    }
    // The stand-in's Windows server GW1: the KDC proxy as declared, or exactly as it was.
    const gw1 = readState(stateFile).windowsHosts!.gw1;
    if (site.kdcProxyServers?.includes("GW1")) {
      assert.deepStrictEqual(gw1.kpssvc, { status: "Running", startType: "Automatic" }, "GW1's kpssvc");
      assert.deepStrictEqual(gw1.kpssvcSettings, { HttpsClientAuth: 0, DisallowUnprotectedPasswordAuth: 0 }, "GW1's KPSSVC settings");
      assert.deepStrictEqual(Object.keys(gw1.urlAcls), ["https://+:443/KdcProxy"], "GW1's URL reservation");
      assert.strictEqual(gw1.sslCerts["0.0.0.0:443"]?.certHash, KDC_CERT, "GW1's certificate binding");
    } else {
      assert.deepStrictEqual({ ...gw1, serviceStarts: 0 }, { ...originalGw1, serviceStarts: 0 }, "GW1 is as it was before the KDC proxy");
    }
    // The stand-in: declared servers hold AD's password for the ASA and no other account's
    // credential; the others are exactly as they were before the rollout touched them.
    const state = readState(stateFile);
    for (const s of Object.values(state.servers)) {
      if (site.servers.some((n) => n.toLowerCase() === s.name.toLowerCase())) {
        assert.strictEqual(s.asa[0]?.userName, `${netbios}\\${account}`, `${s.name}'s latest ASA credential`);
        assert.ok(s.asa[0]?.password === password, `${s.name} holds the ASA password AD has`);
        const others = s.asa.filter((c) => c.userName.toLowerCase() !== `${netbios}\\${account}`.toLowerCase());
        assert.deepStrictEqual(others.map((c) => c.userName), [], `${s.name} holds no other account's credential`);
        assert.strictEqual(s.vdirs.owa.internalUrl, `https://${site.namespace}/owa`, `${s.name} OWA URL`);
        assert.strictEqual(s.rpc.internalHostname, site.namespace, `${s.name} Outlook Anywhere host`);
        assert.strictEqual(s.rpc.internalClientAuthenticationMethod, "Negotiate", `${s.name} Outlook Anywhere auth`);
      } else {
        const was = original.get(s.name)!;
        assert.deepStrictEqual({ vdirs: s.vdirs, rpc: s.rpc, asa: s.asa }, { vdirs: was.vdirs, rpc: was.rpc, asa: was.asa }, `${s.name} is as it was before the rollout`);
      }
    }
  }

  /**
   * One row: `change` (config and/or drift by hand), then `pulumi preview` must plan `expected`,
   * `pulumi up` must do exactly that, `preview --expect-no-changes` must pass, the doctor must exit
   * 0 and reality must match. `upArgs` are the user's flags (`--refresh`).
   */
  async function row(name: string, change: () => Promise<void>, expected: Plan, upArgs: string[] = []): Promise<void> {
    const t0 = Date.now();
    try {
      await change();
      const preview = await cli.preview(["--json", ...upArgs.filter((a) => a === "--refresh")]);
      const plan = planOf(preview.stdout);
      assert.deepStrictEqual(plan, expected, `the preview's plan for "${name}"`);
      const up = await cli.up(upArgs);
      const done = doneOf(up.stdout);
      const planned = Object.values(plan).length;
      const doneCount = Object.values(done).length;
      assert.strictEqual(doneCount, planned, `up did ${JSON.stringify(done)} for a plan of ${JSON.stringify(plan)}\n${up.stdout}`);
      const after = resourcesOf(await cli.exportStack());
      for (const [res, what] of Object.entries(done)) {
        const state = after.find((r) => r.urn.endsWith(`::${res}`));
        const key = state ? resourceKey(state.type, state.inputs ?? {}) : Object.keys(plan).find((k) => plan[k].op === "delete");
        assert.ok(key && plan[key], `up ${what} ${res}, which the preview did not plan\n${up.stdout}`);
        assert.strictEqual(what, { create: "created", update: "updated", replace: "replaced", delete: "deleted" }[plan[key].op], `${res}: planned ${plan[key].op}, up ${what}`);
      }
      await cli.preview(["--expect-no-changes"]);
      const d = await doctor();
      assert.strictEqual(d.code, 0, `the doctor after "${name}":\n${d.out}`);
      await assertReality();
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    } finally {
      times[name] = (Date.now() - t0) / 1000;
    }
  }

  before(async function () {
    lab = await startLab(labAddr(10));
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } });
    const seeded = seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2016" }, { name: "EX3", version: "SE" }]);
    for (const s of Object.values(seeded.servers)) original.set(s.name, structuredClone(s));
    seedWindowsHosts(stateFile, [{ name: "GW1", certificates: [KDC_CERT] }]);
    originalGw1 = structuredClone(readState(stateFile).windowsHosts!.gw1);
    await sambaTool(lab, ["ou", "add", `${OTHER_OU},${lab.baseDn}`]).catch((e: Error) => {
      if (!/already exists/i.test(e.message)) throw e;
    });
    await newStack();
    await declare({
      namespace: `outlook.${lab.domain}`,
      servers: ["EX1", "EX2"],
      addresses: ["192.0.2.11", "192.0.2.12"],
      asaName: "EXCH-ASA",
      asaOu: `${SERVICE_OU},${lab.baseDn}`,
      extraSpnNames: [`autodiscover.${lab.domain}`],
    });
    sh = new KerberosShell(lab);
    const t0 = Date.now();
    await cli.up();
    times["up (from empty)"] = (Date.now() - t0) / 1000;
  });

  after(async function () {
    console.log(`      wall time per row (s): ${JSON.stringify(times)}`);
    if (cli) {
      await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await cli.dispose();
    }
    sh?.cleanup();
  });

  const bindings = (servers: string[], props: string[]): Plan => Object.fromEntries(servers.map((s) => [`bind:${s}`, { op: "update" as Op, props }]));

  it("rotates asaPassword, including „ “ ‘ ’ $ and a backtick: servers first, then AD", async function () {
    const password = `Rotated „quoted“ ‘single’ $HOME \`n-${Date.now()}`;
    await row("rotate asaPassword", () => cli.setConfig("exchange-kerberos:asaPassword", password, { secret: true }).then(() => undefined), {
      // The password is a secret: the plan shows these updates, not the value that changes.
      asa: { op: "update", props: [] },
      ...bindings(["EX1", "EX2"], []),
      "asa-password": { op: "update", props: [] },
    });
    assert.strictEqual(await asaPassword(), password);
  });
  it("adds a server, then removes it (its credential goes, its URLs and auth are restored)", async function () {
    await row("add server EX3", () => declare({ servers: ["EX1", "EX2", "EX3"] }), {
      "urls:EX3": { op: "create", props: [] },
      "bind:EX3": { op: "create", props: [] },
      "auth:EX3": { op: "create", props: [] },
    });
    await row("remove server EX3", () => declare({ servers: ["EX1", "EX2"] }), {
      "urls:EX3": { op: "delete", props: [] },
      "bind:EX3": { op: "delete", props: [] },
      "auth:EX3": { op: "delete", props: [] },
    });
  });
  // The KDC proxy touches only the stand-in's Windows server GW1: each step asserts the plan, that
  // up does it, a clean preview and GW1 itself. The doctor and the directory checks of a full row
  // (8 s or more each) would prove nothing new, since nothing else may change, and the plan says so.
  it("adds kdcProxy (only its KdcProxyServer is created, after Negotiate), then removes it (what it found is back)", async function () {
    const step = async (name: string, change: () => Promise<void>, expected: Plan, verify: () => Promise<void>) => {
      const t0 = Date.now();
      try {
        await change();
        assert.deepStrictEqual(planOf((await cli.preview(["--json"])).stdout), expected, `the preview's plan for "${name}"`);
        const done = Object.values(doneOf((await cli.up()).stdout));
        assert.deepStrictEqual(done, Object.values(expected).map((p) => ({ create: "created", delete: "deleted" })[p.op as "create" | "delete"]));
        await cli.preview(["--expect-no-changes"]);
        await verify();
      } catch (e) {
        if (e instanceof PulumiCliError) throw new Error(e.message);
        throw e;
      } finally {
        times[name] = (Date.now() - t0) / 1000;
      }
    };
    await step("add kdcProxy", () => declare({ kdcProxyServers: ["GW1"], kdcProxyThumbprint: KDC_CERT }), { "kdcproxy:GW1": { op: "create", props: [] } }, async () => {
      const gw1 = readState(stateFile).windowsHosts!.gw1;
      assert.deepStrictEqual(gw1.kpssvc, { status: "Running", startType: "Automatic" }, "GW1's kpssvc");
      assert.deepStrictEqual(gw1.kpssvcSettings, { HttpsClientAuth: 0, DisallowUnprotectedPasswordAuth: 0 }, "GW1's KPSSVC settings");
      assert.deepStrictEqual(Object.keys(gw1.urlAcls), ["https://+:443/KdcProxy"], "GW1's URL reservation");
      assert.strictEqual(gw1.sslCerts["0.0.0.0:443"]?.certHash, KDC_CERT, "GW1's certificate binding");
      const all = resourcesOf(await cli.exportStack());
      const proxy = all.find((r) => r.type.endsWith("KdcProxyServer"))!;
      const negotiate = all.filter((r) => r.type.endsWith("OutlookAnywhereAuth")).map((r) => r.urn);
      assert.strictEqual(negotiate.length, site.servers.length);
      assert.deepStrictEqual(negotiate.filter((u) => !(proxy.dependencies ?? []).includes(u)), [], "the KDC proxy depends on Negotiate on every server");
    });
    await step("remove kdcProxy", () => declare({ kdcProxyServers: undefined, kdcProxyThumbprint: undefined }), { "kdcproxy:GW1": { op: "delete", props: [] } }, async () => {
      const gw1 = readState(stateFile).windowsHosts!.gw1;
      assert.deepStrictEqual({ ...gw1, serviceStarts: 0 }, { ...originalGw1, serviceStarts: 0 }, "GW1 is as it was before the KDC proxy");
    });
  });
  it("changes dnsAddresses", async function () {
    await row("change dnsAddresses", () => declare({ addresses: ["192.0.2.21"] }), { dns: { op: "update", props: ["values"] } });
  });
  it("adds and removes an extraSpnNames entry", async function () {
    const extra = `mail-extra.${lab.domain}`;
    await row("add an extra SPN name", () => declare({ extraSpnNames: [`autodiscover.${lab.domain}`, extra] }), { [`spn:HTTP/${extra}`]: { op: "create", props: [] } });
    await row("remove an extra SPN name", () => declare({ extraSpnNames: [`autodiscover.${lab.domain}`] }), { [`spn:HTTP/${extra}`]: { op: "delete", props: [] } });
  });
  it("flips adopt (it only matters when an object is first taken over: no change)", async function () {
    await row("adopt → true", () => declare({ adopt: true }), {});
  });
  it("moves the namespace to a new name: SPNs, URLs and DNS follow, the old SPN is released", async function () {
    const next = `mail.${lab.domain}`;
    const old = site.namespace;
    await row("move the namespace", () => declare({ namespace: next }), {
      dns: { op: "replace", props: ["name"] },
      "urls:EX1": { op: "update", props: ["namespace"] },
      "urls:EX2": { op: "update", props: ["namespace"] },
      asa: { op: "update", props: ["description"] },
      [`spn:HTTP/${old}`]: { op: "delete", props: [] },
      [`spn:HTTP/${next}`]: { op: "create", props: [] },
    });
  });
  // Drift by hand, a few kinds at once where they touch different resources (each resource's plan
  // is still asserted on its own): the SPN, the record, a URL, a server's credential, Negotiate.
  it("up --refresh repairs an SPN removed, the DNS record changed, a URL changed, a server's credential removed and Negotiate removed, by hand", async function () {
    await row("drift: SPN, record, URL, credential, Negotiate", async () => {
      await sambaTool(lab, ["spn", "delete", `HTTP/${site.namespace}`, `${site.asaName}$`]);
      await sambaTool(lab, ["dns", "add", lab.addr, lab.domain, site.namespace.split(".")[0], "A", "198.51.100.7"]);
      editServer(stateFile, "EX1", (s) => { s.vdirs.ews.internalUrl = "https://elsewhere.example/EWS/Exchange.asmx"; });
      editServer(stateFile, "EX2", (s) => { s.asa = []; });
      editServer(stateFile, "EX2", (s) => { s.rpc.internalClientAuthenticationMethod = "Ntlm"; });
    }, {
      [`spn:HTTP/${site.namespace}`]: { op: "create", props: [] },
      dns: { op: "update", props: [] },
      "urls:EX1": { op: "update", props: [] },
      "bind:EX2": { op: "create", props: [] },
      "auth:EX2": { op: "update", props: [] },
    }, ["--refresh"]);
  });

  it("up --refresh repairs the ASA disabled and made RC4-only by hand", async function () {
    await row("drift: ASA disabled, RC4-only", async () => {
      ldapmodify(lab, `dn: CN=${site.asaName},${site.asaOu}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 4098\n-\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 4\n`);
    }, { asa: { op: "update", props: [] } }, ["--refresh"]);
  });

  it("up --refresh repairs the ASA's password reset by hand", async function () {
    await row("drift: ASA password reset", () => sambaTool(lab, ["user", "setpassword", `${site.asaName}$`, `--newpassword=Hand-Reset-${Date.now()}-x9!`]).then(() => undefined),
      { "asa-password": { op: "update", props: [] } }, ["--refresh"]);
  });

  it("changes asaEncryptionTypes 24 → 56 → 24", async function () {
    await row("encryption types 24 → 56", () => declare({ encryptionTypes: 56 }), { asa: { op: "update", props: ["supportedEncryptionTypes"] } });
    await row("encryption types 56 → 24", () => declare({ encryptionTypes: 24 }), { asa: { op: "update", props: ["supportedEncryptionTypes"] } });
  });
  it("moves the ASA to another OU (its SPNs and bindings stay as they are)", async function () {
    await row("move the ASA's OU", () => declare({ asaOu: `${OTHER_OU},${lab.baseDn}` }), { asa: { op: "update", props: ["ou"] } });
  });
  it("renames the ASA: the old account is gone, servers hold only the new one", async function () {
    await row("rename the ASA", () => declare({ asaName: "EXCH-ASA2" }), {
      asa: { op: "replace", props: ["name"] },
      ...bindings(["EX1", "EX2"], ["account"]),
      "asa-password": { op: "replace", props: ["accountSid"] },
      ...Object.fromEntries([site.namespace, ...site.extraSpnNames].map((h) => [`spn:HTTP/${h}`, { op: "replace" as Op, props: ["account"] }])),
    });
  });
  it("adopt takes over a previous stack's leftovers: the DNS record, the ASA, its SPNs and the servers' credentials", async function () {
    // The previous stack's state is lost (its objects remain): a new stack with adopt=true.
    const t0 = Date.now();
    try {
      await cli.removeStack(STACK, { force: true });
      const kept = site;
      await newStack();
      await declare({ ...kept, adopt: true });
      const plan = planOf((await cli.preview(["--json"])).stdout);
      assert.ok(Object.values(plan).every((p) => p.op === "create"), JSON.stringify(plan));
      await cli.up();
      await cli.preview(["--expect-no-changes"]);
      const d = await doctor();
      assert.strictEqual(d.code, 0, d.out);
      await assertReality();
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    } finally {
      times["adopt a previous stack's leftovers"] = (Date.now() - t0) / 1000;
    }
  });
});
