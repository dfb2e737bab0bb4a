// The package as users get it. Every other test runs programs inside this repository, through
// its self-link; a user runs `pulumi new typescript`, `npm install pulumi-exchange-kerberos` and
// declares sites in their own index.ts. Here: a project of that shape outside the repository
// (test/fixtures/consumer-project: its own package.json and tsconfig.json; two sites in one stack,
// one site in a stack of its own), with the newest @pulumi/pulumi the npm registry serves and with
// the oldest this package supports, and this working tree's `npm pack` tarball; through the real
// CLI against a lab DC and the Exchange stand-in (a TEST DOUBLE): preview, up,
// `preview --expect-no-changes`, refresh, the doctor through npx, destroy. Then an upgrade: a stack
// written by the previous tarball (built from the commit this release branched from), `npm install`
// of this one, refresh, up, destroy. Each project holds exactly one @pulumi/pulumi.
//
// Wall time on this 2-vCPU machine: see the step times printed at the end.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Lab, labAddr, startLab } from "../fixtures/lab";
import { PulumiCli, PulumiCliError, resourcesOf } from "../fixtures/pulumi-cli";
import { seedServers, standinExecutable } from "../fixtures/exchange-standin/state";
import { stepTimes } from "../fixtures/step-times";
import {
  configureUserStack, newestSdk, npm, oldestSdk, packThisRelease, releaseFromGit, sdkCopies, sdkLoadedFrom, sh, SITE_ABSENT, SITE_DEPLOYED, siteHeld, USER_SITES, userProject, UserSite,
} from "../fixtures/consumer";
import { PACKAGE_NAME, PACKAGE_VERSION } from "../../provider/package-install";

/** The commit this release branched from: the last state a user of the 0.1.x line can have written. */
const PREVIOUS = "dadc1a73736dbc0f623d268f67bf928e8251f956";
/** Two sites in one stack, and one site in a stack of its own. */
const STACKS: Record<string, UserSite[]> = { north: ["berlin", "hamburg"], munich: ["munich"] };
/** The one-site stack alone (the oldest SDK and the upgrade: the shape the doctor reads). */
const MUNICH: Record<string, UserSite[]> = { munich: ["munich"] };

const { times, timed } = stepTimes();

describe("the package as users install it: their own Pulumi TypeScript project, outside this repository", function () {
  this.timeout(1_200_000);

  let lab: Lab;
  let tarball: string;
  const cleanup: (() => Promise<void>)[] = [];

  before(async function () {
    lab = await startLab(labAddr(41));
    tarball = await timed("npm pack", () => packThisRelease(cleanup));
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  /** A user project with `sdk`, this release installed, a CLI on it and a stand-in of its own. */
  async function project(sdk: string): Promise<{ dir: string; cli: PulumiCli; standinState: string }> {
    const dir = await timed(`project (@pulumi/pulumi ${sdk})`, () => userProject(sdk));
    const standinState = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    seedServers(standinState, Object.values(USER_SITES).map((s) => ({ name: s.server, version: "2019" as const })));
    const cli = await PulumiCli.create({ project: dir, copyProject: false, env: { EXCHANGE_STANDIN_STATE: standinState } });
    cleanup.push(async () => {
      await cli.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return { dir, cli, standinState };
  }

  /** After a failure, whatever the stacks still hold goes (the other cases use the same lab), and the CLI's output is the message. */
  async function failed(cli: PulumiCli, stacks: string[], e: unknown): Promise<never> {
    for (const stack of stacks) await cli.run(["destroy", "--yes", "--stack", stack], { okCodes: [0, 255] }).catch(() => undefined);
    throw e instanceof PulumiCliError ? new Error(e.message) : e;
  }

  /** Exactly one @pulumi/pulumi, and it is the one both the program and the package load. */
  function assertOneSdk(dir: string, sdk: string): void {
    const copies = sdkCopies(dir);
    assert.deepStrictEqual(copies, [path.join(dir, "node_modules", "@pulumi", "pulumi")], `one @pulumi/pulumi in ${dir}/node_modules`);
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(copies[0], "package.json"), "utf8")).version, sdk);
    assert.strictEqual(sdkLoadedFrom(path.join(dir, "node_modules", PACKAGE_NAME)), sdkLoadedFrom(dir));
  }

  /** Each stack's resources carry this release's version, in inputs and outputs. */
  async function assertVersionInState(cli: PulumiCli, stack: string): Promise<void> {
    cli.stack = stack;
    const dynamic = resourcesOf(await cli.exportStack()).filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"));
    assert.ok(dynamic.length >= 7, stack);
    for (const r of dynamic) {
      assert.strictEqual(r.inputs?.packageVersion, PACKAGE_VERSION, `${r.urn} inputs`);
      assert.strictEqual(r.outputs?.packageVersion, PACKAGE_VERSION, `${r.urn} outputs`);
    }
  }

  async function lifecycle(label: string, sdk: string, stacks: Record<string, UserSite[]>): Promise<void> {
    const { dir, cli, standinState } = await project(sdk);
    await timed(`${label}: npm install the tarball`, () => npm(["install", tarball], dir));
    assertOneSdk(dir, sdk);
    // Each stack has its own lock: they run side by side.
    const eachStack = (fn: (stack: string, sites: UserSite[]) => Promise<unknown>) => Promise.all(Object.entries(stacks).map(([stack, sites]) => fn(stack, sites)));
    const declared = Object.values(stacks).flat();
    for (const [stack, sites] of Object.entries(stacks)) await configureUserStack(cli, stack, lab, sites, standinExecutable());
    try {
      await timed(`${label}: preview`, () => eachStack(async (stack, sites) => {
        const r = await cli.run(["preview", "--stack", stack]);
        for (const site of sites) assert.match(r.stdout, new RegExp(`\\+\\s+\\S+AsaComputerAccount\\s+${site}-asa\\s+create`), r.stdout);
      }));
      for (const site of Object.keys(USER_SITES) as UserSite[]) assert.deepStrictEqual(await siteHeld(lab, standinState, site), SITE_ABSENT, `preview changed nothing for ${site}`);
      await timed(`${label}: up`, () => eachStack((stack) => cli.run(["up", "--yes", "--stack", stack])));
      for (const site of declared) assert.deepStrictEqual(await siteHeld(lab, standinState, site), SITE_DEPLOYED(site), site);
      await timed(`${label}: preview --expect-no-changes`, () => eachStack((stack) => cli.run(["preview", "--expect-no-changes", "--stack", stack])));
      await timed(`${label}: refresh`, () => eachStack((stack) => cli.run(["refresh", "--yes", "--expect-no-changes", "--stack", stack])));
      for (const stack of Object.keys(stacks)) await assertVersionInState(cli, stack);
      // The doctor as a user runs it from the project: the package's bin through npx. A program of
      // one's own names its sites in code, so the doctor gets them as flags; the rest (connection,
      // the ASA's password AD holds) it reads from the stack.
      const m = USER_SITES.munich;
      const doctor = await timed(`${label}: doctor (npx)`, () =>
        sh("npx", ["--no-install", PACKAGE_NAME, "doctor", "--stack", "munich", "--namespace", m.namespace, "--asa-name", m.asa, "--server", m.server], dir, { env: cli.environment(), okCodes: [0, 1, 2] }));
      assert.strictEqual(doctor.code, 0, doctor.stdout + doctor.stderr);
      assert.match(doctor.stdout, /Kerberos will work: 7 ok, 0 warnings, 0 failed, 0 not checked/, doctor.stdout);
      await timed(`${label}: destroy`, () => eachStack((stack) => cli.run(["destroy", "--yes", "--stack", stack])));
      for (const site of declared) assert.deepStrictEqual(await siteHeld(lab, standinState, site), SITE_ABSENT, `destroy left ${site}`);
    } catch (e) {
      await failed(cli, Object.keys(stacks), e);
    }
  }

  it("with the newest @pulumi/pulumi the registry serves: two sites in one stack and one site per stack, preview to destroy", async function () {
    await lifecycle("newest", await timed("npm view", newestSdk), STACKS);
  });

  it("with the oldest @pulumi/pulumi this package supports (the floor of its peer range): a site per stack, preview to destroy", async function () {
    await lifecycle("oldest", oldestSdk(), MUNICH);
  });

  it("npm refuses to install it beside an SDK older than that floor, instead of nesting a second copy", async function () {
    const [major, minor] = oldestSdk().split(".").map(Number);
    const dir = await userProject(`${major}.${minor - 1}.0`);
    cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const r = await timed("npm install beside an older SDK", () => npm(["install", tarball], dir, [0, 1]));
    assert.strictEqual(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`ERESOLVE[\\s\\S]*peer @pulumi/pulumi@"\\^${oldestSdk().replace(/\./g, "\\.")}" from ${PACKAGE_NAME}@${PACKAGE_VERSION.replace(/\./g, "\\.")}`), r.stderr);
    assert.strictEqual(fs.existsSync(path.join(dir, "node_modules", PACKAGE_NAME)), false);
  });

  it("an upgrade: a stack the previous tarball wrote, then npm install of this release: one SDK again, refresh, up, destroy", async function () {
    const previous = await timed("build the previous release from git", () => releaseFromGit(PREVIOUS));
    const sdk = await newestSdk();
    const { dir, cli, standinState } = await project(sdk);
    try {
      await timed("upgrade: npm install the previous tarball", () => npm(["install", previous.tgz], dir));
      // The defect this release fixes: the previous package pinned @pulumi/pulumi exactly, so npm
      // nested a second SDK under it.
      assert.strictEqual(sdkCopies(dir).length, 2, `the previous release nests its own SDK: ${sdkCopies(dir).join(", ")}`);
      await configureUserStack(cli, "munich", lab, ["munich"], previous.standin);
      await timed("upgrade: up with the previous release", () => cli.up());
      assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_DEPLOYED("munich"));

      await timed("upgrade: npm install this release", () => npm(["install", tarball], dir));
      assertOneSdk(dir, sdk);
      await cli.setConfig("exchange-kerberos:exchangeShell", standinExecutable());
      await timed("upgrade: refresh", () => cli.refresh(["--expect-no-changes"]));
      const up = await timed("upgrade: up", () => cli.up());
      assert.doesNotMatch(up.stdout, /\b(created|replaced|deleted)\b/, up.stdout);
      await cli.preview(["--expect-no-changes"]);
      // The inputs now name this release; the outputs keep the previous release's stored code
      // (the engine rewrites it only when a resource is created or updated), which this release
      // still runs: destroy goes through it.
      const state = resourcesOf(await cli.exportStack()).filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"));
      for (const r of state) assert.strictEqual(r.inputs?.packageVersion, PACKAGE_VERSION, r.urn);
      assert.ok(state.every((r) => String(r.outputs?.__provider).includes('require("pulumi-exchange-kerberos").providerCall(type')), "the outputs hold the previous release's stored code");
      await timed("upgrade: destroy", () => cli.destroy());
      assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_ABSENT);
    } catch (e) {
      await failed(cli, ["munich"], e);
    }
  });
});
