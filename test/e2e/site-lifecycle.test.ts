// The whole rollout through the real engine: the site program (examples/site) run by the real
// `pulumi` CLI against a lab Samba AD DC and the Exchange stand-in (a TEST DOUBLE for Exchange),
// the way an admin would run it: preview, up, drift made by hand, refresh, up, password rotation,
// bad config, destroy — and two sites side by side. After every step the backend's files are
// searched for every password in play.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { dig, KerberosShell } from "../fixtures/admin-tools";
import { Lab, labAddr, sambaTool, startLab } from "../fixtures/lab";
import { CliResult, PulumiCli, PulumiCliError, resourcesOf } from "../fixtures/pulumi-cli";
import { SecretsScan } from "../fixtures/secrets-scan";
import { editServer, readState, seedServers, standinExecutable, StandinServer, transcriptPath } from "../fixtures/exchange-standin/state";
import { stepTimes } from "../fixtures/step-times";

const NAMESPACE = "outlook.corp.example";
const AUTODISCOVER = "autodiscover.corp.example";
const ADDRESSES = ["192.0.2.11", "192.0.2.12"];
const SERVERS = ["EX1", "EX2"];

/** Wall time of each step, printed at the end. */
const { times, timed } = stepTimes();

/** A stand-in state file in a folder of its own, and a CLI whose commands point at it. */
async function siteCli(): Promise<{ cli: PulumiCli; stateFile: string }> {
  const stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
  const cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } });
  return { cli, stateFile };
}

/** What a server looks like apart from what the rollout adds (the ASA): URLs, OA and MAPI auth. */
function exchangeSettings(s: StandinServer): unknown {
  return { vdirs: s.vdirs, rpc: s.rpc, autodiscover: s.autoDiscoverServiceInternalUri };
}

/** Points a stack at a lab and a stand-in state file, with the site's config. */
async function configureSite(cli: PulumiCli, lab: Lab, site: { asaName: string; extra?: Record<string, string> }): Promise<void> {
  for (const [key, value] of Object.entries(lab.stackConfig)) {
    await cli.setConfig(key, value, { secret: key.endsWith("Password") });
  }
  const values: Record<string, string> = {
    "exchange-kerberos:exchangeShell": standinExecutable(),
    "exchange-kerberos:namespace": NAMESPACE,
    "exchange-kerberos:servers": JSON.stringify(SERVERS),
    "exchange-kerberos:dnsZone": lab.domain,
    "exchange-kerberos:dnsAddresses": JSON.stringify(ADDRESSES),
    "exchange-kerberos:asaName": site.asaName,
    "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
    "exchange-kerberos:extraSpnNames": JSON.stringify([AUTODISCOVER]),
    ...site.extra,
  };
  for (const [key, value] of Object.entries(values)) await cli.setConfig(key, value);
}

async function computerExists(lab: Lab, name: string): Promise<boolean> {
  try {
    await sambaTool(lab, ["computer", "show", name]);
    return true;
  } catch {
    return false;
  }
}

function spnHolders(lab: Lab, spn: string): Promise<string> {
  return sambaTool(lab, ["spn", "list", `${"EXCH-ASA"}$`]).catch((e: Error) => e.message).then((s) => s.includes(spn) ? "EXCH-ASA" : "");
}

describe("site stack: the whole rollout through the real pulumi CLI (lab DC + Exchange stand-in)", function () {
  this.timeout(900_000);

  let lab: Lab;
  let cli: PulumiCli;
  let stateFile: string;
  let sh: KerberosShell;
  const original = new Map<string, unknown>();
  const passwords: string[] = [];
  let scan: SecretsScan;
  /** Every CLI result of the main stack so far: the secrets scan reads their output. */
  const outputs: CliResult[] = [];
  const step = async (r: Promise<CliResult>) => {
    const result = await scan.during(() => r);
    outputs.push(result);
    return result;
  };

  before(async function () {
    lab = await startLab(labAddr(8));
    ({ cli, stateFile } = await siteCli());
    const seeded = seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2013" }]);
    for (const s of Object.values(seeded.servers)) original.set(s.name, structuredClone(exchangeSettings(s)));
    await cli.selectStack("site-a");
    await configureSite(cli, lab, { asaName: "EXCH-ASA" });
    passwords.push(lab.adminPassword);
    scan = new SecretsScan(cli, () => passwords);
    sh = new KerberosShell(lab);
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    if (!cli) return;
    await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
    await cli.dispose();
    sh?.cleanup();
  });

  it("preview lists the planned creates and changes nothing", async function () {
    const r = await timed("preview (new stack)", () => step(cli.preview()));
    for (const name of ["site-dns", "site-asa", "site-asa-password", "site-urls-ex1", "site-bind-ex2", "site-spn-outlook.corp.example", "site-auth-ex1"]) {
      assert.match(r.stdout, new RegExp(`\\+\\s+\\S+\\s+${name}\\s+create\\b`), r.stdout);
    }
    assert.match(r.stdout, /\+ 13 to create/, r.stdout);
    assert.strictEqual(await computerExists(lab, "EXCH-ASA"), false, "preview must not create the ASA");
    assert.strictEqual(dig(lab, NAMESPACE, "A").status, "NXDOMAIN");
    const state = readState(stateFile);
    for (const s of Object.values(state.servers)) {
      assert.deepStrictEqual(exchangeSettings(s), original.get(s.name), `preview changed ${s.name}`);
      assert.deepStrictEqual(s.asa, []);
    }
    scan.assertClean(outputs);
  });

  it("up rolls Kerberos out in Microsoft's order, and a second preview shows no changes", async function () {
    const r = await timed("up (from empty)", () => step(cli.up()));
    assert.ok(scan.sampledCommands.some((c) => /dynamic-provider|pulumi-language-nodejs/.test(c)), "the argument sampler saw the engine's children during up");
    assert.match(r.stdout, /\+ 13 created/, r.stdout);
    // The engine's log lists each create as it completes: the order the README states.
    const at = (name: string) => r.stdout.search(new RegExp(`${name}\\s+created`));
    for (const [before, after] of [
      ["site-dns", "site-asa"], ["site-urls-ex2", "site-asa"], ["site-asa", "site-bind-ex1"],
      ["site-bind-ex1", "site-asa-password"], ["site-bind-ex2", "site-asa-password"],
      ["site-asa-password", "site-spn-outlook.corp.example"], ["site-spn-autodiscover.corp.example", "site-auth-ex1"],
    ]) {
      assert.ok(at(before) >= 0 && at(before) < at(after), `${before} must complete before ${after}\n${r.stdout}`);
    }

    // The order is declared, not a race: each step depends on every resource of the one before.
    const byName = new Map(resourcesOf(await cli.exportStack()).map((r) => [r.urn.split("::").pop()!, r]));
    const dependsOn = (name: string, on: string[]) => {
      const deps = byName.get(name)?.dependencies ?? [];
      for (const o of on) assert.ok(deps.includes(byName.get(o)!.urn), `${name} must depend on ${o} (it depends on ${deps.join(", ")})`);
    };
    dependsOn("site-asa", ["site-dns", "site-urls-ex1", "site-urls-ex2"]);
    dependsOn("site-bind-ex1", ["site-asa"]);
    dependsOn("site-asa-password", ["site-bind-ex1", "site-bind-ex2"]);
    dependsOn("site-spn-outlook.corp.example", ["site-asa-password"]);
    dependsOn("site-auth-ex2", ["site-spn-outlook.corp.example", "site-spn-autodiscover.corp.example"]);

    const stackOutputs = await cli.stackOutputs({ showSecrets: true });
    const asaPassword = String(stackOutputs.asaPassword);
    passwords.push(asaPassword);
    assert.strictEqual(asaPassword.length, 73, "a generated ASA password has 73 characters");
    assert.strictEqual(stackOutputs.asaQualifiedName, `${lab.netbios}\\EXCH-ASA$`);
    assert.deepStrictEqual(stackOutputs.serversBound, SERVERS);

    assert.deepStrictEqual(dig(lab, NAMESPACE, "A").answers, [...ADDRESSES].sort());
    const state = readState(stateFile);
    for (const s of Object.values(state.servers)) {
      assert.strictEqual(s.vdirs.owa.internalUrl, `https://${NAMESPACE}/owa`, s.name);
      assert.strictEqual(s.rpc.internalHostname, NAMESPACE, s.name);
      assert.strictEqual(s.rpc.internalClientAuthenticationMethod, "Negotiate", s.name);
      assert.ok(s.vdirs.mapi.iisAuthenticationMethods?.includes("Negotiate"), s.name);
      const before = (original.get(s.name) as { vdirs: StandinServer["vdirs"] }).vdirs.mapi.iisAuthenticationMethods ?? [];
      for (const m of before) assert.ok(s.vdirs.mapi.iisAuthenticationMethods?.includes(m), `${s.name}: MAPI's ${m} must be kept`);
      assert.strictEqual(s.asa[0]?.userName, `${lab.netbios}\\EXCH-ASA$`, s.name);
    }
    // The proof: a fresh ticket for the namespace decrypts with a key from the ASA password.
    sh.kinitAdmin();
    const kvno = Number(/kvno = (\d+)/.exec(sh.kvno(`HTTP/${NAMESPACE}`).stdout)?.[1]);
    const keytab = await sh.keytab(`HTTP/${NAMESPACE}`, "EXCH-ASA$", asaPassword, kvno);
    assert.match(sh.kvno(`HTTP/${NAMESPACE}`, keytab).stdout, /keytab entry valid/);
    scan.assertClean(outputs);

    const again = await timed("preview (nothing to change)", () => step(cli.preview()));
    assert.doesNotMatch(again.stdout, /to create|to update|to replace|to delete/, again.stdout);
    assert.match(again.stdout, /13 unchanged/, again.stdout);
    scan.assertClean(outputs);
  });

  it("refresh shows drift made by hand (SPN removed, URL changed, ASA gone from one server), and up repairs it", async function () {
    await sambaTool(lab, ["spn", "delete", `HTTP/${NAMESPACE}`, "EXCH-ASA$"]);
    editServer(stateFile, "EX1", (s) => { s.vdirs.owa.internalUrl = "https://mail.elsewhere.example/owa"; });
    editServer(stateFile, "EX2", (s) => { s.asa = []; });

    const r = await timed("refresh (drift)", () => step(cli.refresh()));
    assert.match(r.stdout, /site-spn-outlook.corp.example\s+deleted/, r.stdout);
    assert.match(r.stdout, /site-urls-ex1\s+updated/, r.stdout);
    assert.match(r.stdout, /site-bind-ex2\s+deleted/, r.stdout);
    assert.doesNotMatch(r.stdout, /site-urls-ex2\s+updated|site-bind-ex1\s+deleted/, r.stdout);

    const plan = await step(cli.preview(["--diff"]));
    assert.match(plan.stdout, /\+ 2 to create/, plan.stdout);
    assert.match(plan.stdout, /~ 1 to update/, plan.stdout);

    await timed("up (repair)", () => step(cli.up()));
    assert.match(await spnHolders(lab, `HTTP/${NAMESPACE}`), /EXCH-ASA/);
    const state = readState(stateFile);
    assert.strictEqual(state.servers.ex1.vdirs.owa.internalUrl, `https://${NAMESPACE}/owa`);
    assert.strictEqual(state.servers.ex2.asa[0]?.userName, `${lab.netbios}\\EXCH-ASA$`);
    const again = await step(cli.preview());
    assert.doesNotMatch(again.stdout, /to create|to update|to replace|to delete/, again.stdout);
    scan.assertClean(outputs);
  });

  it("rotating the ASA password reaches every server before AD; a new keytab decrypts a fresh ticket", async function () {
    const oldPassword = passwords[passwords.length - 1];
    const newPassword = `Rotated-${Date.now()}-'"$\`;|x`;
    passwords.push(newPassword);
    await cli.setConfig("exchange-kerberos:asaPassword", newPassword, { secret: true });
    await timed("up (rotate password)", () => step(cli.up()));

    const stack = await cli.exportStack();
    const adSet = resourcesOf(stack).find((r) => r.urn.endsWith("::site-asa-password"));
    const adPasswordSetAt = Date.parse(String(adSet?.outputs?.passwordLastSet));
    assert.ok(Number.isFinite(adPasswordSetAt), "AsaPassword records when AD's password was set");
    const state = readState(stateFile);
    for (const s of Object.values(state.servers)) {
      assert.strictEqual(s.asa.length, 2, `${s.name} keeps the previous credential beside the new one`);
      // pwdLastSet has 100 ns resolution, the stand-in's clock milliseconds: compare at 1 s.
      assert.ok(Date.parse(s.asa[0].whenAddedUtc) <= adPasswordSetAt + 1000, `${s.name} got the new password before AD`);
    }
    const lines = fs.readFileSync(transcriptPath(stateFile), "utf8");
    assert.ok(!lines.includes(newPassword), "the new password never appears in the stand-in's transcript");

    sh.fresh();
    sh.kinitAdmin();
    const kvno = Number(/kvno = (\d+)/.exec(sh.kvno(`HTTP/${NAMESPACE}`).stdout)?.[1]);
    const fresh = await sh.keytab(`HTTP/${NAMESPACE}`, "EXCH-ASA$", newPassword, kvno);
    assert.match(sh.kvno(`HTTP/${NAMESPACE}`, fresh).stdout, /keytab entry valid/);
    const stale = await sh.keytab(`HTTP/${NAMESPACE}`, "EXCH-ASA$", oldPassword, kvno);
    assert.notStrictEqual(sh.kvno(`HTTP/${NAMESPACE}`, stale).status, 0, "the old password's key no longer decrypts a fresh ticket");
    scan.assertClean(outputs);
  });

  describe("bad config fails at preview with a clear message and changes nothing", function () {
    let bad: PulumiCli;
    let badState: string;

    before(async function () {
      ({ cli: bad, stateFile: badState } = await siteCli());
      seedServers(badState, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2013" }]);
      await bad.selectStack("bad");
      await configureSite(bad, lab, { asaName: "BAD-ASA" });
    });
    after(async function () {
      await bad?.dispose();
    });

    for (const [what, key, value, message] of [
      ["a malformed namespace", "exchange-kerberos:namespace", "outlook..corp.example", /namespace/],
      ["an RC4-only ASA", "exchange-kerberos:asaEncryptionTypes", "4", /RC4/],
      ["a missing OU", "exchange-kerberos:asaOu", "OU=No Such OU,DC=corp,DC=example", /OU=No Such OU,DC=corp,DC=example.*does not exist/],
      ["a server that does not exist", "exchange-kerberos:servers", JSON.stringify(["EX1", "EX9"]), /EX9/],
    ] as const) {
      it(`refuses ${what}`, async function () {
        const before = readState(badState);
        const saved = await bad.getConfig(key).catch(() => undefined);
        await bad.setConfig(key, value);
        try {
          const r = await timed(`preview (bad config: ${what})`, () => bad.preview([], { okCodes: [1] }));
          assert.match(r.stdout + r.stderr, message, r.stdout + r.stderr);
        } finally {
          if (saved === undefined) await bad.run(["config", "rm", key, "--stack", "bad"]);
          else await bad.setConfig(key, saved);
        }
        assert.strictEqual(await computerExists(lab, "BAD-ASA"), false);
        assert.deepStrictEqual(readState(badState).servers, before.servers, "the stand-in is unchanged");
        assert.deepStrictEqual(resourcesOf(await bad.exportStack()), [], "nothing recorded");
      });
    }
  });

  it("destroy removes the SPNs before unbinding, restores every URL and auth setting, deletes the ASA and the record", async function () {
    const r = await timed("destroy", () => step(cli.destroy()));
    const at = (name: string) => r.stdout.search(new RegExp(`${name}\\s+deleted`));
    for (const [first, then] of [
      ["site-auth-ex1", "site-spn-outlook.corp.example"], ["site-auth-ex2", "site-spn-autodiscover.corp.example"],
      ["site-spn-outlook.corp.example", "site-bind-ex1"], ["site-spn-autodiscover.corp.example", "site-bind-ex2"],
      ["site-bind-ex1", "site-asa"], ["site-asa", "site-dns"],
    ]) {
      assert.ok(at(first) >= 0 && at(first) < at(then), `${first} must be deleted before ${then}\n${r.stdout}`);
    }
    const state = readState(stateFile);
    for (const s of Object.values(state.servers)) {
      assert.deepStrictEqual(exchangeSettings(s), original.get(s.name), `${s.name} is back as it was`);
      assert.deepStrictEqual(s.asa, [], `${s.name} holds no ASA credential`);
    }
    assert.strictEqual(await computerExists(lab, "EXCH-ASA"), false);
    assert.strictEqual(dig(lab, NAMESPACE, "A").status, "NXDOMAIN");
    assert.deepStrictEqual((await cli.exportStack()).deployment.resources ?? [], []);
    scan.assertClean(outputs);
  });

  it("two site stacks against two labs side by side do not touch each other", async function () {
    const labB = await startLab(labAddr(9));
    const { cli: a, stateFile: stateA } = await siteCli();
    const { cli: b, stateFile: stateB } = await siteCli();
    try {
      seedServers(stateA, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2013" }]);
      seedServers(stateB, [{ name: "EX1", version: "2016" }, { name: "EX2", version: "SE" }]);
      await a.selectStack("site-a");
      await b.selectStack("site-b");
      await configureSite(a, lab, { asaName: "SITEA-ASA" });
      await configureSite(b, labB, { asaName: "SITEB-ASA" });
      await timed("up (two sites at once)", () => Promise.all([a.up(), b.up()]));

      assert.strictEqual(await computerExists(lab, "SITEA-ASA"), true);
      assert.strictEqual(await computerExists(lab, "SITEB-ASA"), false, "site B wrote to lab A");
      assert.strictEqual(await computerExists(labB, "SITEB-ASA"), true);
      assert.strictEqual(await computerExists(labB, "SITEA-ASA"), false, "site A wrote to lab B");
      assert.strictEqual(readState(stateA).servers.ex1.asa[0]?.userName, `${lab.netbios}\\SITEA-ASA$`);
      assert.strictEqual(readState(stateB).servers.ex1.asa[0]?.userName, `${labB.netbios}\\SITEB-ASA$`);

      await timed("destroy (two sites at once)", () => Promise.all([a.destroy(), b.destroy()]));
      assert.strictEqual(await computerExists(lab, "SITEA-ASA"), false);
      assert.strictEqual(await computerExists(labB, "SITEB-ASA"), false);
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    } finally {
      await a.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await b.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await a.dispose();
      await b.dispose();
    }
  });
});
