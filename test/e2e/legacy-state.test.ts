// Stacks written by release 0.1.0 (commit 6f38f97) keep working. That release wrote each
// resource's implementation path (pulumi-exchange-kerberos/dist/provider/resources/<file>) into
// every stack's state, inside the serialized provider the engine replays for read and delete. The
// fixture is a real `pulumi stack export` of a site stack that release rolled out against a lab
// (test/fixtures/legacy-state/state-6f38f97.json); here it is imported into a new backend and
// driven with today's package through the real CLI: its old closures must still read and delete,
// and the first `up` must move it to today's (which name only the resource type).
import * as assert from "assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dig } from "../fixtures/admin-tools";
import { Lab, labAddr, sambaTool, startLab } from "../fixtures/lab";
import { PulumiCli, PulumiCliError, REPO_ROOT, resourcesOf } from "../fixtures/pulumi-cli";
import { readState, seedServers, standinExecutable, StandinServer } from "../fixtures/exchange-standin/state";

const FIXTURE = path.join(REPO_ROOT, "test", "fixtures", "legacy-state", "state-6f38f97.json");
/** What release 0.1.0's closures name, and today's do not. */
const OLD_CLOSURE = "pulumi-exchange-kerberos/dist/provider/resources/dynamic\").dispatch(modulePath, exportName";

/**
 * The fixture as this lab's stack would hold it: the engine records the provider's config (the
 * stack config at the last `up`) in state and hands it to refresh and destroy, which do not run the
 * program. The fixture recorded the lab it was made on; here the same stack's config points at
 * this lab (the bind password as a secret the import encrypts), as it would on the user's machine.
 */
function legacyStateFor(config: Record<string, string>): string {
  const state = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { deployment: { resources: { type: string; inputs: Record<string, unknown>; outputs: Record<string, unknown> }[] } };
  const provider = state.deployment.resources.find((r) => r.type === "pulumi:providers:pulumi-nodejs");
  assert.ok(provider, "the fixture holds the dynamic provider's recorded config");
  const recorded: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key === "exchange-kerberos:httpsCheck" || key === "exchange-kerberos:krb5Config") continue; // not keys of release 0.1.0's provider
    recorded[key] = key.endsWith("Password") ? { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", plaintext: JSON.stringify(value) } : value;
  }
  provider.inputs = { ...recorded };
  provider.outputs = { ...recorded };
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "legacy-state-")), "state.json");
  fs.writeFileSync(file, JSON.stringify(state));
  return file;
}

describe("a stack written by release 0.1.0 (6f38f97) keeps working: refresh, up and destroy through its old closures", function () {
  this.timeout(600_000);

  let lab: Lab;
  let cli: PulumiCli;
  let stateFile: string;
  const original = new Map<string, StandinServer>();

  async function importLegacy(): Promise<void> {
    await cli.selectStack("legacy");
    for (const [key, value] of Object.entries(lab.stackConfig)) await cli.setConfig(key, value, { secret: key.endsWith("Password") });
    const site: Record<string, string> = {
      "exchange-kerberos:exchangeShell": standinExecutable(),
      "exchange-kerberos:krb5Config": lab.krb5Conf,
      "exchange-kerberos:httpsCheck": "false",
      "exchange-kerberos:namespace": "outlook.corp.example",
      "exchange-kerberos:servers": JSON.stringify(["EX1", "EX2"]),
      "exchange-kerberos:dnsZone": "corp.example",
      "exchange-kerberos:dnsAddresses": JSON.stringify(["192.0.2.11", "192.0.2.12"]),
      "exchange-kerberos:asaName": "EXCH-ASA",
      "exchange-kerberos:asaOu": "OU=Service Accounts,DC=corp,DC=example",
      "exchange-kerberos:extraSpnNames": JSON.stringify(["autodiscover.corp.example"]),
    };
    for (const [key, value] of Object.entries(site)) await cli.setConfig(key, value);
    await cli.run(["stack", "import", "--file", legacyStateFor({ ...lab.stackConfig, ...site }), "--stack", "legacy"]);
    const imported = resourcesOf(await cli.exportStack());
    assert.strictEqual(imported.length, 12, "the fixture holds the component and its 11 resources");
    assert.ok(JSON.stringify(imported).includes(OLD_CLOSURE.replace(/"/g, '\\"')), "the imported state holds release 0.1.0's closures");
  }

  before(async function () {
    lab = await startLab(labAddr(18));
    stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    cli = await PulumiCli.create({ project: "test/fixtures/site-stack", env: { EXCHANGE_STANDIN_STATE: stateFile } });
    const seeded = seedServers(stateFile, [{ name: "EX1", version: "2019" }, { name: "EX2", version: "2016" }]);
    for (const s of Object.values(seeded.servers)) original.set(s.name, structuredClone(s));
  });

  after(async function () {
    if (!cli) return;
    await cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
    await cli.dispose();
  });

  it("refresh reads through the old closures, up converges and moves the stack to today's, destroy removes it all", async function () {
    try {
      await importLegacy();
      // The objects the old rollout made live in another lab: read (old code) finds them gone.
      const refreshed = await cli.refresh();
      assert.match(refreshed.stdout, /m?-?asa\s+deleted|deleted/, refreshed.stdout);
      await cli.up();
      await cli.preview(["--expect-no-changes"]);
      const state = JSON.stringify(resourcesOf(await cli.exportStack()));
      assert.ok(!state.includes(OLD_CLOSURE.replace(/"/g, '\\"')), "after up, no resource runs release 0.1.0's closures");
      assert.match(state, /providerCall\(type/, "today's closures name the resource type");
      assert.deepStrictEqual(dig(lab, "outlook.corp.example", "A").answers, ["192.0.2.11", "192.0.2.12"]);
      assert.match(await sambaTool(lab, ["spn", "list", "EXCH-ASA$"]), /HTTP\/outlook\.corp\.example/);
      await cli.destroy();
      assert.strictEqual(dig(lab, "outlook.corp.example", "A").status, "NXDOMAIN");
      for (const s of Object.values(readState(stateFile).servers)) {
        const was = original.get(s.name)!;
        assert.deepStrictEqual({ vdirs: s.vdirs, rpc: s.rpc, asa: s.asa }, { vdirs: was.vdirs, rpc: was.rpc, asa: was.asa }, `${s.name} is as it was`);
      }
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    }
  });

  it("destroy runs the old closures' delete directly", async function () {
    try {
      await cli.removeStack("legacy", { force: true }).catch(() => undefined);
      await importLegacy();
      const r = await cli.destroy();
      assert.match(r.stdout, /deleted/, r.stdout);
      assert.deepStrictEqual(resourcesOf(await cli.exportStack()), []);
    } catch (e) {
      if (e instanceof PulumiCliError) throw new Error(e.message);
      throw e;
    }
  });
});
