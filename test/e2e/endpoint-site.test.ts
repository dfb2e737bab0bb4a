// A site of three servers managed through one exchangeEndpoint, against the Exchange stand-in (a
// TEST DOUBLE, not Exchange) enforcing Exchange's own rules (docs/reference/exchange-rules.md): the ASA
// credential is set only in a session on each server itself, the shell loads its module only
// because it bypasses the Restricted policy of a Windows client, the machines speak German, a
// server's Remote Registry service can be off, and a runspace counts until Remove-PSSession.
// Through the real pulumi CLI: up, a clean preview, the doctor, a rotation, a refresh with Remote
// Registry off on one server, destroy. Then no runspace is left open on any server.
import * as assert from "assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Lab, labAddr, run, startLab } from "../fixtures/lab";
import { PulumiCli, PulumiCliError, REPO_ROOT } from "../fixtures/pulumi-cli";
import { editServer, getServer, readState, readTranscript, seedServers, standinExecutable, type StandinServer } from "../fixtures/exchange-standin/state";

const STACK = "ep";
const SERVERS = ["EX1", "EX2", "EX3"];

describe("a site with exchangeEndpoint and three servers: the ASA bound on every server (real CLI, lab DC, Exchange stand-in)", function () {
  this.timeout(600_000);

  let lab: Lab;
  let cli: PulumiCli;
  let stateFile: string;
  let namespace: string;
  const original = new Map<string, StandinServer>();
  const times: Record<string, number> = {};

  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t = Date.now();
    try {
      return await fn();
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    } finally {
      times[name] = (Date.now() - t) / 1000;
    }
  }

  async function asaPassword(): Promise<string> {
    return String((await cli.stackOutputs({ showSecrets: true })).asaPassword);
  }

  /** The Connect-EkExchange parameters the stand-in received since `from` (its transcript). */
  function connects(from = 0): { Endpoint: string; TargetServer?: string; Culture?: string }[] {
    return readTranscript(stateFile)
      .slice(from)
      .flatMap((e) => (e.t === "script" && e.text.includes("'Connect-EkExchange'") ? [JSON.parse(Buffer.from(/-ParamsBase64 '([^']+)'/.exec(e.text)![1], "base64").toString("utf8"))] : []));
  }

  const openRunspaces = () => Object.entries(readState(stateFile).liveSessions ?? {}).filter(([, pids]) => pids.length > 0);

  before(async function () {
    lab = await startLab(labAddr(27));
    namespace = `outlook.${lab.domain}`;
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-ep-")), "state.json");
    // The stand-in's defaults are the strict ones: a German machine, no execution policy set
    // (Restricted), every rule of its README on.
    const seeded = seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2016" }, { name: "EX3", version: "2013" }]);
    for (const s of Object.values(seeded.servers)) original.set(s.name, structuredClone(s));
    cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } });
    await cli.selectStack(STACK);
    for (const [key, value] of Object.entries(lab.stackConfig)) await cli.setConfig(key, value, { secret: key.endsWith("Password") });
    await cli.setAllConfig({
      "exchange-kerberos:exchangeShell": standinExecutable(),
      "exchange-kerberos:exchangeEndpoint": "EX1",
      "exchange-kerberos:krb5Config": lab.krb5Conf,
      // No web server stands behind these addresses (check 8: truth-table.test.ts).
      "exchange-kerberos:httpsCheck": "false",
      "exchange-kerberos:namespace": namespace,
      "exchange-kerberos:servers": JSON.stringify(SERVERS),
      "exchange-kerberos:dnsZone": lab.domain,
      "exchange-kerberos:dnsAddresses": JSON.stringify(["192.0.2.51"]),
      "exchange-kerberos:asaName": "EP-ASA",
      "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
    });
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    if (cli) {
      await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
      await cli.dispose();
    }
  });

  it("up binds the ASA on every server, each in a session on that server; everything else goes through the endpoint", async function () {
    await step("up", () => cli.up());
    const password = await asaPassword();
    for (const s of SERVERS) {
      const server = getServer(stateFile, s);
      assert.strictEqual(server.asa[0]?.userName, `${lab.netbios}\\EP-ASA$`, `${s}'s credential`);
      assert.ok(server.asa[0]?.password === password, `${s} holds the ASA's password`);
      assert.strictEqual(server.rpc.internalHostname, namespace, `${s}'s Outlook Anywhere host`);
      assert.strictEqual(server.rpc.internalClientAuthenticationMethod, "Negotiate", `${s}'s Negotiate`);
    }
    const c = connects();
    assert.ok(c.every((p) => p.Culture === "en-US"), "every session's culture is pinned");
    assert.deepStrictEqual([...new Set(c.filter((p) => p.TargetServer === undefined).map((p) => p.Endpoint))], ["EX1"], "the shared sessions: only the endpoint");
    assert.deepStrictEqual([...new Set(c.filter((p) => p.TargetServer !== undefined).map((p) => `${p.Endpoint} → ${p.TargetServer}`))].sort(), SERVERS.map((s) => `${s.toLowerCase()}.${"corp.example"} → ${s.toLowerCase()}.corp.example`), "a session on each server, for its credential");
  });

  it("a clean preview, and the doctor passes: it compares each server's passwords on the server", async function () {
    await step("preview --expect-no-changes", () => cli.preview(["--expect-no-changes"]));
    const d = await step("doctor", () => run(process.execPath, [path.join(REPO_ROOT, "dist", "provider", "cli.js"), "doctor", "--stack", STACK, "--cwd", cli.projectDir], { env: cli.environment(), timeoutMs: 120_000 }));
    assert.strictEqual(d.code, 0, d.stdout + d.stderr);
    for (const s of SERVERS) assert.match(d.stdout, new RegExp(`${s}.*holds AD's current password`), d.stdout);
  });

  it("a rotation binds the new password on every server first, beside AD's", async function () {
    const before = await asaPassword();
    const next = `Rotated-„ep“-${Date.now()}`;
    await cli.setConfig("exchange-kerberos:asaPassword", next, { secret: true });
    await step("up (rotation)", () => cli.up());
    for (const s of SERVERS) assert.deepStrictEqual(getServer(stateFile, s).asa.map((c) => c.password), [next, before], `${s}: the new password, and AD's until it changed`);
    await step("preview after the rotation", () => cli.preview(["--expect-no-changes"]));
  });

  it("Remote Registry off on EX2: refresh fails only EX2's binding; its URLs and Negotiate are read", async function () {
    editServer(stateFile, "EX2", (s) => {
      s.remoteRegistry = false;
    });
    const r = await step("refresh (Remote Registry off)", () => cli.run(["refresh", "--yes", "--stack", STACK], { okCodes: [255, 1] }));
    const out = r.stdout + r.stderr;
    const failed = [...new Set([...out.matchAll(/exchange-kerberos:\w+ \(([\w.-]+)\):\s*\n\s*error:/g)].map((m) => m[1]))];
    assert.deepStrictEqual(failed, ["site-bind-ex2"], out);
    assert.match(out, /The network path was not found/);
    editServer(stateFile, "EX2", (s) => {
      s.remoteRegistry = true;
    });
    await step("refresh", () => cli.run(["refresh", "--yes", "--expect-no-changes", "--stack", STACK]));
  });

  it("destroy puts every server back as it was, and no runspace is left open on any server", async function () {
    await step("destroy", () => cli.destroy());
    for (const s of SERVERS) {
      const now = getServer(stateFile, s);
      const was = original.get(s)!;
      assert.deepStrictEqual({ vdirs: now.vdirs, rpc: now.rpc, asa: now.asa }, { vdirs: was.vdirs, rpc: was.rpc, asa: was.asa }, `${s} is as it was`);
    }
    assert.deepStrictEqual(openRunspaces(), [], "every session ended with Remove-PSSession or its shell's orderly exit");
  });
});
