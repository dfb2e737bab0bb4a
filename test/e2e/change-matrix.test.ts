// The change matrix: every change a user makes to a working site, made the way the README says —
// set the config, `pulumi preview`, `pulumi up` (which previews again first), then
// `pulumi preview --expect-no-changes` — through the real pulumi CLI, against a lab Samba AD DC and
// the Exchange stand-in (a TEST DOUBLE for Exchange). Every row starts from a site of its own,
// fresh from its first `up` (its own stack, namespace, ASA and stand-in servers), so that no row
// depends on what another did before it: each passes or fails the same alone, first or last. And
// every row ends with `pulumi destroy`, after which AD and the servers are as they were before the
// row's site existed (the stack created everything it held). Each row asserts:
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
 * password shows in the plan only as the update itself. The ASA's identity (sid, dn, names) and
 * AD's password, which its `check` carries forward for the preview, are not declared inputs.
 */
function changedInputs(s: PreviewStep): string[] {
  if (s.op !== "update") return [];
  const olds = s.oldState?.inputs ?? {};
  const news = s.newState?.inputs ?? {};
  // Carried by check (the ASA's identity; AD's password and its pwdLastSet, which the state's
  // inputs gain only at the ASA's first recorded step after the check that found it), and
  // bookkeeping inputs (provider/resources/lifecycle.ts: the URN, the stack, owner marks, the ASA's
  // origin): none is a declared input.
  const carried = ["sid", "dn", "samAccountName", "qualifiedName", "adPassword", "adPasswordSetAt", "__provider", "resourceUrn", "pulumiStack", "owner", "accountOwner", "accountOrigin", "recordOrigin", "packageVersion"];
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

/** One row's own site: its stack, stand-in servers and everything it ever declared. */
interface RowSite {
  tag: string;
  cli: PulumiCli;
  stack: string;
  stateFile: string;
  site: Site;
  everAsa: Set<string>;
  everHosts: Set<string>;
  everNamespaces: Set<string>;
  original: Map<string, StandinServer>;
  originalGw1: StandinWindowsHost;
}

describe("change matrix: every change a user makes previews and applies, each on a fresh site (real CLI, lab DC, Exchange stand-in)", function () {
  this.timeout(900_000);

  let lab: Lab;
  let sh: KerberosShell;
  const open: RowSite[] = [];
  let rows = 0;

  async function declare(r: RowSite, next: Partial<Site>): Promise<void> {
    const changed = { ...r.site, ...next };
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
    const old = r.site as Site | undefined;
    for (const [key, value] of Object.entries(values)) {
      const field = key.split(":")[1];
      if (value === undefined) await r.cli.run(["config", "rm", key, "--stack", r.stack]).catch(() => undefined);
      else if (!old || JSON.stringify((old as unknown as Record<string, unknown>)[fieldOf(field)]) !== JSON.stringify((changed as unknown as Record<string, unknown>)[fieldOf(field)])) await r.cli.setConfig(key, value);
    }
    r.site = changed;
    r.everAsa.add(r.site.asaName);
    for (const h of [r.site.namespace, ...r.site.extraSpnNames]) r.everHosts.add(h);
    r.everNamespaces.add(r.site.namespace);
  }

  function fieldOf(configKey: string): string {
    return ({ dnsAddresses: "addresses", asaEncryptionTypes: "encryptionTypes" } as Record<string, string>)[configKey] ?? configKey;
  }

  /** A stack of its own, pointed at the lab and at stand-in servers of its own, with no site yet. */
  async function newStack(r: Pick<RowSite, "cli" | "stack">): Promise<void> {
    await r.cli.selectStack(r.stack);
    for (const [key, value] of Object.entries(lab.stackConfig)) await r.cli.setConfig(key, value, { secret: key.endsWith("Password") });
    await r.cli.setConfig("exchange-kerberos:exchangeShell", standinExecutable());
    await r.cli.setConfig("exchange-kerberos:krb5Config", lab.krb5Conf);
    // No web server stands behind these addresses: the doctor's check 8 (the HTTPS endpoint) is
    // proven against the lab's real front door in truth-table.test.ts.
    await r.cli.setConfig("exchange-kerberos:httpsCheck", "false");
    await r.cli.setConfig("exchange-kerberos:dnsZone", lab.domain);
  }

  /**
   * A site of its own for one row, fresh from its first `up`: namespace outlook-<tag>, one extra
   * SPN name autodiscover-<tag>, the ASA ASA-<TAG>, servers EX1 and EX2 of its own stand-in (EX3
   * and the Windows server GW1 waiting there).
   */
  async function freshSite(): Promise<RowSite> {
    const tag = `r${String(++rows).padStart(2, "0")}`;
    const stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    const cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } });
    const seeded = seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2016" }, { name: "EX3", version: "SE" }]);
    const original = new Map<string, StandinServer>();
    for (const s of Object.values(seeded.servers)) original.set(s.name, structuredClone(s));
    seedWindowsHosts(stateFile, [{ name: "GW1", certificates: [KDC_CERT] }]);
    const r: RowSite = {
      tag, cli, stack: `m-${tag}`, stateFile, site: undefined as unknown as Site,
      everAsa: new Set(), everHosts: new Set(), everNamespaces: new Set(), original,
      originalGw1: structuredClone(readState(stateFile).windowsHosts!.gw1),
    };
    open.push(r);
    await newStack(r);
    await declare(r, {
      namespace: `outlook-${tag}.${lab.domain}`,
      servers: ["EX1", "EX2"],
      addresses: ["192.0.2.11", "192.0.2.12"],
      asaName: `ASA-${tag.toUpperCase()}`,
      asaOu: `${SERVICE_OU},${lab.baseDn}`,
      extraSpnNames: [`autodiscover-${tag}.${lab.domain}`],
    });
    const t0 = Date.now();
    await cli.up();
    times[`${tag} up (from empty)`] = (Date.now() - t0) / 1000;
    return r;
  }

  async function doctor(r: RowSite): Promise<{ code: number; out: string }> {
    const d = await run(process.execPath, [path.join(REPO_ROOT, "dist", "provider", "cli.js"), "doctor", "--stack", r.stack, "--cwd", r.cli.projectDir], { env: r.cli.environment(), timeoutMs: 120_000 });
    return { code: d.code, out: d.stdout + d.stderr };
  }

  async function asaPassword(r: RowSite): Promise<string> {
    return String((await r.cli.stackOutputs({ showSecrets: true })).asaPassword);
  }

  /** AD and the stand-in hold exactly what the row's site declares. */
  async function assertReality(r: RowSite): Promise<void> {
    const { site } = r;
    const netbios = lab.netbios;
    const account = `${site.asaName}$`;
    const password = await asaPassword(r);
    // The ASA: in its OU, nowhere else; no ASA this row declared before is left anywhere.
    for (const ou of [SERVICE_OU, OTHER_OU]) {
      const names = ldapsearch(lab, `${ou},${lab.baseDn}`, "(objectClass=computer)", ["sAMAccountName"]).map((e) => e.samaccountname[0]);
      const expected = site.asaOu.startsWith(ou) ? [account] : [];
      assert.deepStrictEqual(names.filter((n) => [...r.everAsa].some((a) => `${a}$`.toUpperCase() === n.toUpperCase())), expected, `computer accounts in ${ou}`);
    }
    const [asa] = ldapsearch(lab, lab.baseDn, `(sAMAccountName=${account})`, ["msDS-SupportedEncryptionTypes", "userAccountControl", "servicePrincipalName"]);
    assert.ok(asa, `${account} exists`);
    assert.strictEqual(Number(asa["msds-supportedencryptiontypes"]?.[0]), site.encryptionTypes ?? 24, "msDS-SupportedEncryptionTypes");
    assert.strictEqual(Number(asa.useraccountcontrol[0]) & 2, 0, "the ASA is enabled");
    // SPNs: exactly the declared ones on the ASA, and no other account holds any host name used.
    const declared = [site.namespace, ...site.extraSpnNames].map((h) => `HTTP/${h}`.toLowerCase()).sort();
    assert.deepStrictEqual((asa.serviceprincipalname ?? []).map((x) => x.toLowerCase()).sort(), declared, "SPNs on the ASA");
    for (const host of r.everHosts) {
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
    for (const ns of r.everNamespaces) {
      if (ns !== site.namespace) assert.strictEqual(dig(lab, ns, "A").status, "NXDOMAIN", `the record of the earlier namespace ${ns} is gone`);
    }
    // The stand-in's Windows server GW1: the KDC proxy as declared, or exactly as it was.
    const gw1 = readState(r.stateFile).windowsHosts!.gw1;
    if (site.kdcProxyServers?.includes("GW1")) {
      assert.deepStrictEqual(gw1.kpssvc, { status: "Running", startType: "Automatic" }, "GW1's kpssvc");
      assert.deepStrictEqual(gw1.kpssvcSettings, { HttpsClientAuth: 0, DisallowUnprotectedPasswordAuth: 0 }, "GW1's KPSSVC settings");
      assert.deepStrictEqual(Object.keys(gw1.urlAcls), ["https://+:443/KdcProxy"], "GW1's URL reservation");
      assert.strictEqual(gw1.sslCerts["0.0.0.0:443"]?.certHash, KDC_CERT, "GW1's certificate binding");
    } else {
      assert.deepStrictEqual({ ...gw1, serviceStarts: 0 }, { ...r.originalGw1, serviceStarts: 0 }, "GW1 is as it was before the KDC proxy");
    }
    // The stand-in: declared servers hold AD's password for the ASA and no other account's
    // credential; the others are exactly as they were before the rollout touched them.
    const state = readState(r.stateFile);
    for (const s of Object.values(state.servers)) {
      // A server is declared by its name or its FQDN (EX2, ex2.corp.example).
      if (site.servers.some((n) => n.split(".")[0].toLowerCase() === s.name.toLowerCase())) {
        assert.strictEqual(s.asa[0]?.userName, `${netbios}\\${account}`, `${s.name}'s latest ASA credential`);
        assert.ok(s.asa[0]?.password === password, `${s.name} holds the ASA password AD has`);
        const others = s.asa.filter((c) => c.userName.toLowerCase() !== `${netbios}\\${account}`.toLowerCase());
        assert.deepStrictEqual(others.map((c) => c.userName), [], `${s.name} holds no other account's credential`);
        assert.strictEqual(s.vdirs.owa.internalUrl, `https://${site.namespace}/owa`, `${s.name} OWA URL`);
        assert.strictEqual(s.rpc.internalHostname, site.namespace, `${s.name} Outlook Anywhere host`);
        assert.strictEqual(s.rpc.internalClientAuthenticationMethod, "Negotiate", `${s.name} Outlook Anywhere auth`);
      } else {
        const was = r.original.get(s.name)!;
        assert.deepStrictEqual({ vdirs: s.vdirs, rpc: s.rpc, asa: s.asa }, { vdirs: was.vdirs, rpc: was.rpc, asa: was.asa }, `${s.name} is as it was before the rollout`);
      }
    }
  }

  /**
   * `pulumi destroy` of a site the stack created from nothing: everything it made is gone and the
   * servers are as they were before it — so no URL names a record that destroy deleted, no SPN is
   * left without a credential, and no server offers Negotiate for an SPN it cannot decrypt.
   */
  async function destroyed(r: RowSite): Promise<void> {
    const t0 = Date.now();
    await r.cli.destroy();
    times[`${r.tag} destroy`] = (Date.now() - t0) / 1000;
    for (const asa of r.everAsa) {
      assert.deepStrictEqual(ldapsearch(lab, lab.baseDn, `(sAMAccountName=${asa}$)`, ["dn"]), [], `${asa}$ is deleted`);
    }
    for (const host of r.everHosts) {
      assert.deepStrictEqual(ldapsearch(lab, lab.baseDn, `(servicePrincipalName=HTTP/${host})`, ["dn"]), [], `no account holds HTTP/${host}`);
    }
    for (const ns of r.everNamespaces) assert.strictEqual(dig(lab, ns, "A").status, "NXDOMAIN", `the record of ${ns} is deleted`);
    const state = readState(r.stateFile);
    for (const s of Object.values(state.servers)) {
      const was = r.original.get(s.name)!;
      assert.deepStrictEqual({ vdirs: s.vdirs, rpc: s.rpc, asa: s.asa }, { vdirs: was.vdirs, rpc: was.rpc, asa: was.asa }, `${s.name} is as it was before the site`);
      // The coherence the README promises, said directly: no URL names a namespace whose record is gone.
      const urls = [...Object.values(s.vdirs).flatMap((v) => [v.internalUrl, v.externalUrl]), s.autoDiscoverServiceInternalUri, s.rpc.internalHostname];
      for (const ns of r.everNamespaces) assert.ok(!urls.some((u) => typeof u === "string" && u.toLowerCase().includes(ns)), `${s.name} names no deleted namespace (${ns})`);
    }
    assert.deepStrictEqual({ ...state.windowsHosts!.gw1, serviceStarts: 0 }, { ...r.originalGw1, serviceStarts: 0 }, "GW1 is as it was");
    assert.deepStrictEqual(resourcesOf(await r.cli.exportStack()), [], "nothing is left in state");
  }

  /**
   * One row on a fresh site: `change` (config and/or drift by hand), then `pulumi preview` must
   * plan `expected`, `pulumi up` must do exactly that, `preview --expect-no-changes` must pass, the
   * doctor must exit 0 and reality must match. `upArgs` are the user's flags (`--refresh`).
   */
  async function step(r: RowSite, name: string, change: () => Promise<void>, expected: Plan, upArgs: string[] = []): Promise<void> {
    const t0 = Date.now();
    try {
      await change();
      const preview = await r.cli.preview(["--json", ...upArgs.filter((a) => a === "--refresh")]);
      const plan = planOf(preview.stdout);
      assert.deepStrictEqual(plan, expected, `the preview's plan for "${name}"`);
      const up = await r.cli.up(upArgs);
      const done = doneOf(up.stdout);
      const planned = Object.values(plan).length;
      const doneCount = Object.values(done).length;
      assert.strictEqual(doneCount, planned, `up did ${JSON.stringify(done)} for a plan of ${JSON.stringify(plan)}\n${up.stdout}`);
      const after = resourcesOf(await r.cli.exportStack());
      for (const [res, what] of Object.entries(done)) {
        const state = after.find((x) => x.urn.endsWith(`::${res}`));
        const key = state ? resourceKey(state.type, state.inputs ?? {}) : Object.keys(plan).find((k) => plan[k].op === "delete");
        assert.ok(key && plan[key], `up ${what} ${res}, which the preview did not plan\n${up.stdout}`);
        assert.strictEqual(what, { create: "created", update: "updated", replace: "replaced", delete: "deleted" }[plan[key].op], `${res}: planned ${plan[key].op}, up ${what}`);
      }
      await r.cli.preview(["--expect-no-changes"]);
      const d = await doctor(r);
      assert.strictEqual(d.code, 0, `the doctor after "${name}":\n${d.out}`);
      await assertReality(r);
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    } finally {
      times[`${r.tag} ${name}`] = (Date.now() - t0) / 1000;
    }
  }

  /** A row: a fresh site, its steps, then destroy (the created site is gone, the servers as before). */
  async function row(steps: (r: RowSite) => Promise<void>): Promise<void> {
    const r = await freshSite();
    try {
      await steps(r);
      await destroyed(r);
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    } finally {
      await r.cli.dispose();
      open.splice(open.indexOf(r), 1);
    }
  }

  before(async function () {
    lab = await startLab(labAddr(10));
    await sambaTool(lab, ["ou", "add", `${OTHER_OU},${lab.baseDn}`]).catch((e: Error) => {
      if (!/already exists/i.test(e.message)) throw e;
    });
    sh = new KerberosShell(lab);
  });

  after(async function () {
    console.log(`      wall time per row (s): ${JSON.stringify(times)}`);
    // A row that failed leaves its site: destroy it, so the lab is clean for whatever runs next.
    for (const r of open.splice(0)) {
      await r.cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await r.cli.dispose();
    }
    sh?.cleanup();
  });

  const bindings = (servers: string[], props: string[]): Plan => Object.fromEntries(servers.map((s) => [`bind:${s}`, { op: "update" as Op, props }]));

  it("rotates asaPassword, including „ “ ‘ ’ $ and a backtick: servers first, then AD", async function () {
    await row(async (r) => {
      const password = `Rotated „quoted“ ‘single’ $HOME \`n-${Date.now()}`;
      await step(r, "rotate asaPassword", () => r.cli.setConfig("exchange-kerberos:asaPassword", password, { secret: true }).then(() => undefined), {
        // The password is a secret: the plan shows these updates, not the value that changes.
        asa: { op: "update", props: [] },
        ...bindings(["EX1", "EX2"], []),
        "asa-password": { op: "update", props: [] },
      });
      assert.strictEqual(await asaPassword(r), password);
    });
  });
  it("adds a server, then removes it (its credential goes, its URLs and auth are restored)", async function () {
    await row(async (r) => {
      await step(r, "add server EX3", () => declare(r, { servers: ["EX1", "EX2", "EX3"] }), {
        "urls:EX3": { op: "create", props: [] },
        "bind:EX3": { op: "create", props: [] },
        "auth:EX3": { op: "create", props: [] },
      });
      await step(r, "remove server EX3", () => declare(r, { servers: ["EX1", "EX2"] }), {
        "urls:EX3": { op: "delete", props: [] },
        "bind:EX3": { op: "delete", props: [] },
        "auth:EX3": { op: "delete", props: [] },
      });
    });
  });
  it("writes a server by its FQDN instead of its name: the same server, nothing created, replaced or deleted", async function () {
    await row(async (r) => {
      // EX1 and ex1.corp.example are one Exchange server: its resources are named by the server's
      // key, so the change is an update of the name each records, never a create and a delete.
      await step(r, "EX2 → ex2.corp.example", () => declare(r, { servers: ["EX1", "ex2.corp.example"] }), {});
    });
  });
  // The KDC proxy touches only the stand-in's Windows server GW1: each step asserts the plan, that
  // up does it, a clean preview and GW1 itself. The doctor and the directory checks of a full row
  // (8 s or more each) would prove nothing new, since nothing else may change, and the plan says so.
  it("adds kdcProxy (only its KdcProxyServer is created, after Negotiate), then removes it (what it found is back)", async function () {
    await row(async (r) => {
      const quick = async (name: string, change: () => Promise<void>, expected: Plan, verify: () => Promise<void>) => {
        const t0 = Date.now();
        try {
          await change();
          assert.deepStrictEqual(planOf((await r.cli.preview(["--json"])).stdout), expected, `the preview's plan for "${name}"`);
          const done = Object.values(doneOf((await r.cli.up()).stdout));
          assert.deepStrictEqual(done, Object.values(expected).map((p) => ({ create: "created", delete: "deleted" })[p.op as "create" | "delete"]));
          await r.cli.preview(["--expect-no-changes"]);
          await verify();
        } finally {
          times[`${r.tag} ${name}`] = (Date.now() - t0) / 1000;
        }
      };
      await quick("add kdcProxy", () => declare(r, { kdcProxyServers: ["GW1"], kdcProxyThumbprint: KDC_CERT }), { "kdcproxy:GW1": { op: "create", props: [] } }, async () => {
        const gw1 = readState(r.stateFile).windowsHosts!.gw1;
        assert.deepStrictEqual(gw1.kpssvc, { status: "Running", startType: "Automatic" }, "GW1's kpssvc");
        assert.deepStrictEqual(gw1.kpssvcSettings, { HttpsClientAuth: 0, DisallowUnprotectedPasswordAuth: 0 }, "GW1's KPSSVC settings");
        assert.deepStrictEqual(Object.keys(gw1.urlAcls), ["https://+:443/KdcProxy"], "GW1's URL reservation");
        assert.strictEqual(gw1.sslCerts["0.0.0.0:443"]?.certHash, KDC_CERT, "GW1's certificate binding");
        const all = resourcesOf(await r.cli.exportStack());
        const proxy = all.find((x) => x.type.endsWith("KdcProxyServer"))!;
        const negotiate = all.filter((x) => x.type.endsWith("OutlookAnywhereAuth")).map((x) => x.urn);
        assert.strictEqual(negotiate.length, r.site.servers.length);
        assert.deepStrictEqual(negotiate.filter((u) => !(proxy.dependencies ?? []).includes(u)), [], "the KDC proxy depends on Negotiate on every server");
      });
      await quick("remove kdcProxy", () => declare(r, { kdcProxyServers: undefined, kdcProxyThumbprint: undefined }), { "kdcproxy:GW1": { op: "delete", props: [] } }, async () => {
        const gw1 = readState(r.stateFile).windowsHosts!.gw1;
        assert.deepStrictEqual({ ...gw1, serviceStarts: 0 }, { ...r.originalGw1, serviceStarts: 0 }, "GW1 is as it was before the KDC proxy");
      });
    });
  });
  it("changes dnsAddresses", async function () {
    await row((r) => step(r, "change dnsAddresses", () => declare(r, { addresses: ["192.0.2.21"] }), { dns: { op: "update", props: ["values"] } }));
  });
  it("adds and removes an extraSpnNames entry", async function () {
    await row(async (r) => {
      const extra = `mail-extra-${r.tag}.${lab.domain}`;
      const kept = r.site.extraSpnNames;
      await step(r, "add an extra SPN name", () => declare(r, { extraSpnNames: [...kept, extra] }), { [`spn:HTTP/${extra}`]: { op: "create", props: [] } });
      await step(r, "remove an extra SPN name", () => declare(r, { extraSpnNames: kept }), { [`spn:HTTP/${extra}`]: { op: "delete", props: [] } });
    });
  });
  it("flips adopt (it only matters when an object is first taken over: no change)", async function () {
    await row((r) => step(r, "adopt → true", () => declare(r, { adopt: true }), {}));
  });
  it("moves the namespace to a new name: SPNs, URLs and DNS follow, the old SPN is released", async function () {
    await row(async (r) => {
      const next = `mail-${r.tag}.${lab.domain}`;
      const old = r.site.namespace;
      await step(r, "move the namespace", () => declare(r, { namespace: next }), {
        dns: { op: "replace", props: ["name"] },
        "urls:EX1": { op: "update", props: ["namespace"] },
        "urls:EX2": { op: "update", props: ["namespace"] },
        asa: { op: "update", props: ["description"] },
        [`spn:HTTP/${old}`]: { op: "delete", props: [] },
        [`spn:HTTP/${next}`]: { op: "create", props: [] },
      });
    });
  });
  // Drift by hand, a few kinds at once where they touch different resources (each resource's plan
  // is still asserted on its own): the SPN, the record, a URL, a server's credential, Negotiate.
  it("up --refresh repairs an SPN removed, the DNS record changed, a URL changed, a server's credential removed and Negotiate removed, by hand", async function () {
    await row((r) => step(r, "drift: SPN, record, URL, credential, Negotiate", async () => {
      await sambaTool(lab, ["spn", "delete", `HTTP/${r.site.namespace}`, `${r.site.asaName}$`]);
      await sambaTool(lab, ["dns", "add", lab.addr, lab.domain, r.site.namespace.split(".")[0], "A", "198.51.100.7"]);
      editServer(r.stateFile, "EX1", (s) => { s.vdirs.ews.internalUrl = "https://elsewhere.example/EWS/Exchange.asmx"; });
      editServer(r.stateFile, "EX2", (s) => { s.asa = []; });
      editServer(r.stateFile, "EX2", (s) => { s.rpc.internalClientAuthenticationMethod = "Ntlm"; });
    }, {
      [`spn:HTTP/${r.site.namespace}`]: { op: "create", props: [] },
      dns: { op: "update", props: [] },
      "urls:EX1": { op: "update", props: [] },
      "bind:EX2": { op: "create", props: [] },
      "auth:EX2": { op: "update", props: [] },
    }, ["--refresh"]));
  });
  it("up --refresh repairs the ASA disabled and made RC4-only by hand", async function () {
    await row((r) => step(r, "drift: ASA disabled, RC4-only", async () => {
      ldapmodify(lab, `dn: CN=${r.site.asaName},${r.site.asaOu}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 4098\n-\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 4\n`);
    }, { asa: { op: "update", props: [] } }, ["--refresh"]));
  });
  it("up --refresh repairs the ASA's password reset by hand", async function () {
    await row((r) => step(r, "drift: ASA password reset", () => sambaTool(lab, ["user", "setpassword", `${r.site.asaName}$`, `--newpassword=Hand-Reset-${Date.now()}-x9!`]).then(() => undefined),
      { "asa-password": { op: "update", props: [] } }, ["--refresh"]));
  });
  it("changes asaEncryptionTypes 24 → 56 → 24", async function () {
    await row(async (r) => {
      await step(r, "encryption types 24 → 56", () => declare(r, { encryptionTypes: 56 }), { asa: { op: "update", props: ["supportedEncryptionTypes"] } });
      await step(r, "encryption types 56 → 24", () => declare(r, { encryptionTypes: 24 }), { asa: { op: "update", props: ["supportedEncryptionTypes"] } });
    });
  });
  it("moves the ASA to another OU (its SPNs and bindings stay as they are)", async function () {
    await row((r) => step(r, "move the ASA's OU", () => declare(r, { asaOu: `${OTHER_OU},${lab.baseDn}` }), { asa: { op: "update", props: ["ou"] } }));
  });
  it("renames the ASA on a site fresh from its first up: the old account is gone, servers hold only the new one", async function () {
    await row((r) => step(r, "rename the ASA", () => declare(r, { asaName: `${r.site.asaName}X` }), {
      asa: { op: "replace", props: ["name"] },
      ...bindings(["EX1", "EX2"], ["account"]),
      // The ASA is replaced delete-first, so the engine replaces what depends on its SID first too:
      // it plans those replacements itself, and names no property for them.
      "asa-password": { op: "replace", props: [] },
      ...Object.fromEntries([r.site.namespace, ...r.site.extraSpnNames].map((h) => [`spn:HTTP/${h}`, { op: "replace" as Op, props: [] }])),
    }));
  });
  it("renames the ASA after moving the namespace (the same plan, on SPNs the move created)", async function () {
    await row(async (r) => {
      const next = `mail-${r.tag}.${lab.domain}`;
      await step(r, "move the namespace", () => declare(r, { namespace: next }), {
        dns: { op: "replace", props: ["name"] },
        "urls:EX1": { op: "update", props: ["namespace"] },
        "urls:EX2": { op: "update", props: ["namespace"] },
        asa: { op: "update", props: ["description"] },
        [`spn:HTTP/outlook-${r.tag}.${lab.domain}`]: { op: "delete", props: [] },
        [`spn:HTTP/${next}`]: { op: "create", props: [] },
      });
      await step(r, "rename the ASA", () => declare(r, { asaName: `${r.site.asaName}X` }), {
        asa: { op: "replace", props: ["name"] },
        ...bindings(["EX1", "EX2"], ["account"]),
        "asa-password": { op: "replace", props: [] },
        ...Object.fromEntries([r.site.namespace, ...r.site.extraSpnNames].map((h) => [`spn:HTTP/${h}`, { op: "replace" as Op, props: [] }])),
      });
    });
  });
  it("adopt takes over a previous stack's leftovers; destroy then releases them and Kerberos still works", async function () {
    const r = await freshSite();
    const t0 = Date.now();
    try {
      // The previous stack's state is lost (its objects remain): a new stack with adopt=true.
      await r.cli.removeStack(r.stack, { force: true });
      const kept = r.site;
      r.site = undefined as unknown as Site;
      await newStack(r);
      await declare(r, { ...kept, adopt: true });
      const plan = planOf((await r.cli.preview(["--json"])).stdout);
      assert.ok(Object.values(plan).every((p) => p.op === "create"), JSON.stringify(plan));
      await r.cli.up();
      await r.cli.preview(["--expect-no-changes"]);
      const d = await doctor(r);
      assert.strictEqual(d.code, 0, d.out);
      await assertReality(r);
      // Taken over with adopt, everything counts as there before this stack (even under the marks
      // a stack of this name wrote: its state is lost): destroy releases it, and the site works on.
      const password = await asaPassword(r);
      const servers = readState(r.stateFile).servers;
      await r.cli.destroy();
      assert.deepStrictEqual(resourcesOf(await r.cli.exportStack()), [], "nothing is left in state");
      assert.deepStrictEqual(readState(r.stateFile).servers, servers, "the servers are as the stack left them");
      const noStack = await run(process.execPath, [path.join(REPO_ROOT, "dist", "provider", "cli.js"), "doctor", "--no-stack", "--cwd", r.cli.projectDir,
        "--namespace", r.site.namespace, ...r.site.servers.flatMap((x) => ["--server", x]), ...r.site.extraSpnNames.flatMap((x) => ["--extra-spn-name", x]),
        ...r.site.addresses.flatMap((a) => ["--dns-address", a]), "--asa-name", r.site.asaName, "--ldap-url", lab.ldapUrl, "--ldap-ca-file", lab.caFile,
        "--ldap-bind-user", lab.adminUser, "--krb5-config", lab.krb5Conf, "--exchange-shell", standinExecutable(), "--https-check", "false", "--asa-password-stdin"], {
        env: { ...r.cli.environment(), EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD: lab.adminPassword }, input: `${password}\n`, timeoutMs: 120_000,
      });
      assert.strictEqual(noStack.code, 0, `doctor --no-stack after destroy:\n${noStack.stdout}${noStack.stderr}`);
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    } finally {
      times[`${r.tag} adopt a previous stack's leftovers, then destroy`] = (Date.now() - t0) / 1000;
      // The released site is the lab's now: an admin removes it by hand.
      await sambaTool(lab, ["computer", "delete", r.site.asaName]).catch(() => undefined);
      for (const a of r.site.addresses) await sambaTool(lab, ["dns", "delete", lab.addr, lab.domain, r.site.namespace.split(".")[0], "A", a]).catch(() => undefined);
      await r.cli.dispose();
      open.splice(open.indexOf(r), 1);
    }
  });
});
