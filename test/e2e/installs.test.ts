// Installs from which the code Pulumi stores for each resource cannot load this package (issue 31,
// "state outlives the machine that wrote it"). That code runs in the dynamic-provider host, which
// the engine starts in the program's directory, and loads the package there by its own name, at
// preview and for refresh and destroy, which never run the program. Each install below either
// works or is refused at preview, in one line naming the cause and the fix, with nothing changed:
// a pnpm workspace that reaches the package through another workspace package (refused; works
// once the project depends on it itself), the package installed under another name (an alias:
// refused), a program bundled with its dependencies by esbuild (works while the project installs
// the package; where it does not, preview refuses and refresh names the version that wrote the
// stack), and a machine with release 0.1.0 installed (refresh and destroy refuse, naming this
// release and how to install it, instead of "providerCall is not a function").
// Real CLI, lab DC, Exchange stand-in (a TEST DOUBLE); pnpm and esbuild from the npm registry.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Lab, labAddr, startLab } from "../fixtures/lab";
import { CliResult, PulumiCli, PulumiCliError, resourcesOf } from "../fixtures/pulumi-cli";
import { seedServers, standinExecutable } from "../fixtures/exchange-standin/state";
import { stepTimes } from "../fixtures/step-times";
import { configureUserStack, newestSdk, npm, packThisRelease, pnpm, releaseFromGit, sdkLoadedFrom, sh, SITE_ABSENT, SITE_DEPLOYED, siteHeld, tools, USER_SITES, userProject } from "../fixtures/consumer";
import { PACKAGE_NAME, PACKAGE_VERSION } from "../../provider/package-install";

/** Release 0.1.0: its stored code named module paths, and its package has no providerCall. */
const RELEASE_0_1_0 = "6f38f97";

const { times, timed } = stepTimes();
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

describe("installs the stored provider code cannot load from: each works or is refused at preview, naming the cause", function () {
  this.timeout(900_000);

  let lab: Lab;
  let tarball: string;
  let sdk: string;
  const cleanup: (() => Promise<void>)[] = [];

  before(async function () {
    lab = await startLab(labAddr(42));
    tarball = await timed("npm pack", () => packThisRelease(cleanup));
    sdk = await newestSdk();
  });

  after(async function () {
    console.log(`      wall time per step (s): ${JSON.stringify(times)}`);
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  /** A CLI on the project in `dir` (the munich stack, pointed at the lab) and a stand-in of its own. */
  async function munichStack(dir: string): Promise<{ cli: PulumiCli; standinState: string }> {
    const standinState = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "standin-")), "state.json");
    seedServers(standinState, [{ name: USER_SITES.munich.server, version: "2019" }]);
    const cli = await PulumiCli.create({ project: dir, copyProject: false, env: { EXCHANGE_STANDIN_STATE: standinState } });
    cleanup.push(async () => {
      await cli.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    await configureUserStack(cli, "munich", lab, ["munich"], standinExecutable());
    return { cli, standinState };
  }

  /** Whatever the stack still holds goes (the cases share the lab); the CLI's output is the message. */
  async function failed(cli: PulumiCli, e: unknown, reinstall?: () => Promise<unknown>): Promise<never> {
    await reinstall?.().catch(() => undefined);
    await cli.destroy([], { okCodes: [0, 255] }).catch(() => undefined);
    throw e instanceof PulumiCliError ? new Error(e.message) : e;
  }

  /** The program's one-line refusal (package-install.ts): the cause, the fix, no stack trace, nothing made. */
  async function assertRefusedAtPreview(cli: PulumiCli, standinState: string, dir: string, code: "PACKAGE_NOT_IN_PROJECT"): Promise<CliResult> {
    const r = await cli.preview([], { okCodes: [1] });
    const cause = code === "PACKAGE_NOT_IN_PROJECT" ? `the program runs ${PACKAGE_VERSION} but cannot load it by that name from ${fs.realpathSync(dir)}` : "";
    assert.match(r.stdout, new RegExp(`error: ${escape(PACKAGE_NAME)}: ${escape(cause)}.*\\. Fix: add it to the project's own dependencies: npm install ${escape(`${PACKAGE_NAME}@${PACKAGE_VERSION}`)} in `), r.stdout);
    assert.doesNotMatch(r.stdout + r.stderr, /^\s+at /m, "no stack trace");
    assert.deepStrictEqual(resourcesOf(await cli.exportStack()), [], "nothing recorded");
    assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_ABSENT, "nothing changed");
    return r;
  }

  it("a pnpm workspace whose project reaches the package through another workspace package: refused; once the project depends on it, up and destroy work on one SDK", async function () {
    const ws = fs.mkdtempSync(path.join(os.tmpdir(), "ek-pnpm-workspace-"));
    const infra = path.join(ws, "infra");
    const sites = path.join(ws, "sites");
    fs.mkdirSync(infra);
    fs.mkdirSync(sites);
    // pnpm 12 refuses to install while a dependency's build script is neither allowed nor denied:
    // protobufjs's (under @pulumi/pulumi) only prints a notice, so deny it.
    fs.writeFileSync(path.join(ws, "pnpm-workspace.yaml"), "packages:\n  - infra\n  - sites\nallowBuilds:\n  protobufjs: false\n");
    fs.writeFileSync(path.join(ws, "package.json"), JSON.stringify({ name: "workspace", private: true }));
    // The company's own package over the library (its site defaults, say): the project imports that.
    fs.writeFileSync(path.join(sites, "package.json"), JSON.stringify({ name: "@acme/sites", version: "1.0.0", main: "index.js", peerDependencies: { "@pulumi/pulumi": `^${sdk}` }, dependencies: { [PACKAGE_NAME]: `file:${tarball}` } }));
    fs.writeFileSync(path.join(sites, "index.js"), `module.exports = require("${PACKAGE_NAME}");\n`);
    fs.writeFileSync(path.join(sites, "index.d.ts"), `export * from "${PACKAGE_NAME}";\n`);
    const template = await userProject(sdk);
    for (const f of ["Pulumi.yaml", "tsconfig.json"]) fs.copyFileSync(path.join(template, f), path.join(infra, f));
    fs.writeFileSync(path.join(infra, "index.ts"), fs.readFileSync(path.join(template, "index.ts"), "utf8").replace(`from "${PACKAGE_NAME}"`, 'from "@acme/sites"'));
    const pkg = JSON.parse(fs.readFileSync(path.join(template, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    pkg.dependencies["@acme/sites"] = "workspace:*";
    fs.writeFileSync(path.join(infra, "package.json"), JSON.stringify(pkg, null, 4));
    fs.rmSync(template, { recursive: true, force: true });
    await timed("pnpm: install the workspace", () => pnpm(["install"], ws));
    cleanup.push(async () => fs.rmSync(ws, { recursive: true, force: true }));

    const { cli, standinState } = await munichStack(infra);
    try {
      await timed("pnpm: preview (refused)", () => assertRefusedAtPreview(cli, standinState, infra, "PACKAGE_NOT_IN_PROJECT"));
      await timed("pnpm: pnpm add in the project", () => pnpm(["add", `${PACKAGE_NAME}@file:${tarball}`], infra));
      const own = fs.realpathSync(path.join(infra, "node_modules", PACKAGE_NAME));
      assert.strictEqual(own, fs.realpathSync(path.join(sites, "node_modules", PACKAGE_NAME)), "one copy of the package");
      assert.strictEqual(sdkLoadedFrom(own), sdkLoadedFrom(infra), "the package and the program load one @pulumi/pulumi");
      await timed("pnpm: up", () => cli.up());
      assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_DEPLOYED("munich"));
      await timed("pnpm: destroy", () => cli.destroy());
      assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_ABSENT);
    } catch (e) {
      await failed(cli, e);
    }
  });

  it("the package installed under another name (an npm alias): refused at preview, nothing made", async function () {
    const dir = await userProject(sdk);
    fs.writeFileSync(path.join(dir, "index.ts"), fs.readFileSync(path.join(dir, "index.ts"), "utf8").replace(`from "${PACKAGE_NAME}"`, 'from "kerberos"'));
    // What `npm install kerberos@npm:pulumi-exchange-kerberos@<version>` leaves, from the tarball
    // (the registry does not serve this working tree): the package in node_modules/kerberos.
    await timed("alias: npm install", () => npm(["install", `kerberos@file:${tarball}`], dir));
    assert.ok(fs.existsSync(path.join(dir, "node_modules", "kerberos", "package.json")));
    assert.strictEqual(fs.existsSync(path.join(dir, "node_modules", PACKAGE_NAME)), false);
    const { cli, standinState } = await munichStack(dir);
    try {
      await timed("alias: preview (refused)", () => assertRefusedAtPreview(cli, standinState, dir, "PACKAGE_NOT_IN_PROJECT"));
    } catch (e) {
      await failed(cli, e);
    }
  });

  it("a program bundled with its dependencies (esbuild): works while the project installs the package; without it, preview refuses and refresh names the version that wrote the stack", async function () {
    const dir = await userProject(sdk);
    await timed("bundle: npm install", () => npm(["install", tarball], dir));
    // The SDK stays outside the bundle: the engine's runner and the program must share one copy.
    await timed("bundle: esbuild", async () => sh((await tools()).esbuild, ["index.ts", "--bundle", "--platform=node", "--format=cjs", "--external:@pulumi/pulumi", "--outfile=bundle/index.js", "--log-level=error"], dir));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: kerberos-sites\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: bundle/index.js\n");
    assert.ok(fs.readFileSync(path.join(dir, "bundle", "index.js"), "utf8").includes("function providerPackage("), "the package is inside the bundle");
    const { cli, standinState } = await munichStack(dir);
    const reinstall = () => npm(["install", tarball], dir);
    try {
      await timed("bundle: up", () => cli.up());
      assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_DEPLOYED("munich"));

      // Deployed where only the bundle and the SDK are.
      await npm(["uninstall", PACKAGE_NAME], dir);
      await timed("bundle: preview without the package (refused)", async () => {
        const r = await cli.preview([], { okCodes: [1] });
        assert.match(r.stdout, new RegExp(`error: ${escape(PACKAGE_NAME)}: the program runs ${escape(PACKAGE_VERSION)} but cannot load it by that name from ${escape(fs.realpathSync(path.join(dir, "bundle")))}, .*Fix: add it to the project's own dependencies: npm install ${escape(`${PACKAGE_NAME}@${PACKAGE_VERSION}`)} in ${escape(fs.realpathSync(dir))} `), r.stdout);
      });
      const refresh = await timed("bundle: refresh without the package (refused)", () => cli.refresh([], { okCodes: [1] }));
      assert.match(refresh.stdout, new RegExp(`error: .*this resource was written by ${escape(PACKAGE_NAME)} ${escape(PACKAGE_VERSION)}; .* cannot load it \\(Cannot find module '${escape(PACKAGE_NAME)}/package\\.json'.*\\)\\. Fix: run npm install ${escape(`${PACKAGE_NAME}@^${PACKAGE_VERSION}`)} in ${escape(fs.realpathSync(dir))} `), refresh.stdout);
      assert.doesNotMatch(refresh.stdout + refresh.stderr, /^\s+at /m, "no stack trace");
      assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_DEPLOYED("munich"), "nothing changed");

      await reinstall();
      await timed("bundle: destroy", () => cli.destroy());
      assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_ABSENT);
    } catch (e) {
      await failed(cli, e, reinstall);
    }
  });

  it("a machine with release 0.1.0 installed: refresh and destroy of a stack this release wrote refuse, naming this release and how to install it; with it installed again, destroy works", async function () {
    const old = await timed("0.1.0: build the release from git", () => releaseFromGit(RELEASE_0_1_0));
    assert.strictEqual(old.version, "0.1.0");
    const dir = await userProject(sdk);
    await npm(["install", tarball], dir);
    const { cli, standinState } = await munichStack(dir);
    const reinstall = () => npm(["install", tarball], dir);
    try {
      await timed("0.1.0: up with this release", () => cli.up());
      const before = resourcesOf(await cli.exportStack());
      await timed("0.1.0: npm install release 0.1.0", () => npm(["install", old.tgz], dir));
      const refusal = new RegExp(`error: .*this resource was written by ${escape(PACKAGE_NAME)} ${escape(PACKAGE_VERSION)}; ${escape(fs.realpathSync(dir))} loads 0\\.1\\.0, which cannot run it\\. Fix: run npm install ${escape(`${PACKAGE_NAME}@^${PACKAGE_VERSION}`)} in ${escape(fs.realpathSync(dir))} `, "g");
      for (const command of ["refresh", "destroy"] as const) {
        const r = await timed(`0.1.0: ${command} (refused)`, () => cli[command]([], { okCodes: [1] }));
        assert.ok((r.stdout.match(refusal) ?? []).length >= 1, r.stdout);
        assert.doesNotMatch(r.stdout + r.stderr, /providerCall is not a function|^\s+at /m, r.stdout);
      }
      assert.deepStrictEqual(resourcesOf(await cli.exportStack()).map((r) => r.urn), before.map((r) => r.urn), "state unchanged");
      assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_DEPLOYED("munich"), "nothing changed");
      await timed("0.1.0: npm install this release again", reinstall);
      await timed("0.1.0: destroy", () => cli.destroy());
      assert.deepStrictEqual(await siteHeld(lab, standinState, "munich"), SITE_ABSENT);
    } catch (e) {
      await failed(cli, e, reinstall);
    }
  });
});
