// The real Pulumi engine (the CLI built by scripts/install-pulumi, local file backend) runs the
// smallest project with our own dynamic resource (test/fixtures/noop-stack) through preview, up,
// refresh after drift made by hand, and destroy. The resource's provider loads its code with
// require("pulumi-exchange-kerberos/dist/...") inside each method, as the package's real resources
// do, so this suite fails when closure serialization, the dynamic-provider host or the self-link
// node_modules/pulumi-exchange-kerberos breaks. It also pins down how stack config reaches a
// dynamic provider's configure(): plain and secret values arrive, and the secret stays out of state.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ExportedResource, PulumiCli, REPO_ROOT, resourcesOf, StackExport } from "../fixtures/pulumi-cli";
import type { ConfigProbe } from "../fixtures/noop-runtime";

const NOOP_TYPE = "pulumi-nodejs:dynamic/noop:Noop";
const RUNTIME_MODULE = "pulumi-exchange-kerberos/dist/test/fixtures/noop-runtime.js";

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe("pulumi engine: dynamic provider lifecycle (real CLI, noop stack)", function () {
  this.timeout(300_000);

  let cli: PulumiCli;
  let markerDir: string;
  let markerFile: string;
  // Random per run, so finding it in state cannot be a coincidence.
  const secret = `s3cret-${crypto.randomBytes(8).toString("hex")}`;

  function noopResource(state: StackExport): ExportedResource {
    const found = resourcesOf(state, NOOP_TYPE);
    assert.strictEqual(found.length, 1, `expected one ${NOOP_TYPE} in state, got ${JSON.stringify(found)}`);
    return found[0];
  }

  function readMarker(): { value: string } {
    return JSON.parse(fs.readFileSync(markerFile, "utf8")) as { value: string };
  }

  before(async function () {
    const runtime = path.join(REPO_ROOT, "dist", "test", "fixtures", "noop-runtime.js");
    assert.ok(fs.existsSync(runtime), `${runtime} is missing: run scripts/build`);
    const selfLink = path.join(REPO_ROOT, "node_modules", "pulumi-exchange-kerberos");
    assert.ok(
      fs.existsSync(path.join(selfLink, "package.json")),
      `${selfLink} (-> ..) is missing: run scripts/setup`,
    );
    cli = await PulumiCli.create({ project: "test/fixtures/noop-stack" });
    const version = (await cli.run(["version"])).stdout.trim();
    assert.match(version, /^v3\.\d+\.\d+/, `pulumi version printed ${JSON.stringify(version)}`);

    markerDir = path.join(cli.workDir, "markers");
    markerFile = path.join(markerDir, "marker.json");
    await cli.selectStack("e2e");
    await cli.setConfig("noop-stack:markerDir", markerDir);
    await cli.setConfig("noop-stack:value", "one");
    await cli.setConfig("exchange-kerberos:someKey", "plain-value");
    await cli.setConfig("exchange-kerberos:someSecret", secret, { secret: true });
  });

  after(async function () {
    if (!cli) return;
    // Leave nothing behind even when a step failed half-way (the marker lives in workDir too).
    await cli.destroy([], { okCodes: [0, 255] }).catch(() => undefined);
    await cli.removeStack("e2e", { force: true }).catch(() => undefined);
    await cli.dispose();
  });

  it("preview plans the create and changes nothing", async function () {
    const r = await cli.preview();
    assert.match(r.stdout, /\+\s+pulumi:pulumi:Stack\s+noop-stack-e2e\s+create/, r.stdout);
    assert.match(r.stdout, /\+\s+pulumi-nodejs:dynamic:Noop\s+marker\s+create\b/, r.stdout);
    assert.match(r.stdout, /\+ 2 to create/, r.stdout);
    assert.ok(!fs.existsSync(markerFile), "preview must not create the marker");
    const state = await cli.exportStack();
    assert.deepStrictEqual(resourcesOf(state), [], "preview must not record resources");
  });

  it("up creates the resource through the replayed provider closure", async function () {
    const r = await cli.up();
    assert.match(r.stdout, /\+\s+pulumi-nodejs:dynamic:Noop\s+marker\s+created\b/, r.stdout);
    assert.match(r.stdout, /\+ 2 created/, r.stdout);
    assert.match(r.stdout, /greeting\s*:\s*"hello one"/, r.stdout);

    assert.deepStrictEqual(readMarker(), { value: "one" });
    const res = noopResource(await cli.exportStack());
    assert.strictEqual(res.id, "noop-marker");
    assert.strictEqual(res.outputs?.value, "one");
    assert.strictEqual(res.outputs?.greeting, "hello one");
    assert.strictEqual(res.outputs?.markerDir, markerDir);
    // The create ran in the dynamic-provider process, not in the program.
    assert.strictEqual(typeof res.outputs?.createdByPid, "number");
    // What state keeps to replay read/delete: the serialized provider, which loads our module by
    // name inside its methods (nothing of it captured).
    const serialized = res.outputs?.__provider;
    assert.strictEqual(typeof serialized, "string");
    assert.ok((serialized as string).includes(`require("${RUNTIME_MODULE}")`), serialized as string);
    assert.strictEqual(await cli.stackOutputs().then((o) => o.greeting), "hello one");
  });

  it("configure() sees plain and secret stack config; the secret stays out of state", async function () {
    const probe = JSON.parse(fs.readFileSync(path.join(markerDir, "configure.json"), "utf8")) as ConfigProbe;
    assert.strictEqual(probe.seen["exchange-kerberos:someKey"], "plain-value");
    assert.strictEqual(probe.seen["exchange-kerberos:someSecret"], secret, "the provider gets the secret in plain text");
    assert.notStrictEqual(probe.pid, process.pid);

    const exported = JSON.stringify(await cli.exportStack());
    assert.ok(!exported.includes(secret), "the secret must not appear in plain text in `stack export`");
    // Nor anywhere in the backend (state, its backups and history).
    const files = filesUnder(cli.backendDir);
    assert.ok(files.some((f) => fs.readFileSync(f, "latin1").includes("noop-marker")), "no state file found");
    const leaked = files.filter((f) => fs.readFileSync(f, "latin1").includes(secret));
    assert.deepStrictEqual(leaked, [], "the secret must not appear in plain text in backend files");
  });

  it("refresh shows drift made by hand and records it", async function () {
    fs.writeFileSync(markerFile, JSON.stringify({ value: "changed-by-hand" }));
    const r = await cli.refresh();
    assert.match(r.stdout, /~\s+pulumi-nodejs:dynamic:Noop\s+marker\s+updated\b/, r.stdout);
    assert.match(r.stdout, /~ 1 updated/, r.stdout);

    const res = noopResource(await cli.exportStack());
    assert.strictEqual(res.outputs?.value, "changed-by-hand");
    // Refresh touches state only: the marker keeps the hand-made value.
    assert.deepStrictEqual(readMarker(), { value: "changed-by-hand" });

    // The program still says "one": the next preview plans to put it back.
    const plan = await cli.preview(["--diff"]);
    assert.match(plan.stdout, /~ 1 to update/, plan.stdout);
    assert.match(plan.stdout, /value\s*:\s*"changed-by-hand" => "one"/, plan.stdout);
  });

  it("destroy deletes the resource through the replayed closure and empties state", async function () {
    const r = await cli.destroy();
    assert.match(r.stdout, /-\s+pulumi-nodejs:dynamic:Noop\s+marker\s+deleted\b/, r.stdout);
    assert.match(r.stdout, /- 2 deleted/, r.stdout);
    assert.ok(!fs.existsSync(markerFile), "destroy must remove the marker");
    const state = await cli.exportStack();
    assert.deepStrictEqual(state.deployment.resources ?? [], []);
  });
});
