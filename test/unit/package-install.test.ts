// The code Pulumi stores in state for each resource (resources/dynamic.ts) and the program's check
// that its directory can run it (package-install.ts). The stored code is serialized here as the
// SDK serializes it for state, and loaded as the dynamic-provider host loads it
// (require-from-string), from a folder whose node_modules holds whatever the case needs: so these
// are the very functions a machine with another install runs. test/e2e/consumer.test.ts and
// installs.test.ts run the same through the real CLI.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { REPO_ROOT } from "../fixtures/pulumi-cli";
import { checkProjectLoadsThisPackage, PACKAGE_NAME, PACKAGE_VERSION, projectDirectory, versionLoadedFrom, writtenByNewer } from "../../provider/package-install";
import { InvalidProgramInputError } from "../../provider/program-error";
import { thinProvider } from "../../provider/resources/dynamic";
import { PACKAGE_VERSION_KEY, providerCall, withPackageVersion } from "../../provider/resources/provider-call";
import { ConflictError } from "../../provider/errors";

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the host's own loader
const requireFromString = require("require-from-string") as (code: string, filename: string) => { handler: () => pulumi.dynamic.ResourceProvider };

const made: string[] = [];
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A folder holding node_modules/pulumi-exchange-kerberos with this package.json and index.js, or none. */
function projectWith(pkg?: { version: string; index: string }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ek-stored-"));
  made.push(dir);
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: p\nruntime: nodejs\n");
  if (pkg) {
    const at = path.join(dir, "node_modules", PACKAGE_NAME);
    fs.mkdirSync(at, { recursive: true });
    fs.writeFileSync(path.join(at, "package.json"), JSON.stringify({ name: PACKAGE_NAME, version: pkg.version, main: "index.js" }));
    fs.writeFileSync(path.join(at, "index.js"), pkg.index);
  }
  return dir;
}

/** The provider as the host deserializes it, loading modules from `dir`. */
async function storedProvider(dir: string): Promise<pulumi.dynamic.ResourceProvider> {
  const provider = thinProvider("exchange-kerberos:DnsRecord");
  const { text } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  return requireFromString(text, path.join(dir, "__provider.js")).handler();
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof Error, "the stored code refuses");
  return e.message;
}

describe("the stored provider code", function () {
  this.timeout(30_000);
  const fix = `Fix: run npm install ${PACKAGE_NAME}@^${PACKAGE_VERSION} in `;

  it("captures only the type token and the version that wrote it: no path, no package internals", async () => {
    const provider = thinProvider("exchange-kerberos:DnsRecord");
    const { text } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    assert.match(text, new RegExp(`writer: "${PACKAGE_VERSION.replace(/\./g, "\\.")}"`));
    assert.match(text, /type: "exchange-kerberos:DnsRecord"/);
    assert.doesNotMatch(text, /dist\/provider|\/work\/|node_modules/);
  });

  it("where the package cannot be loaded by name: names the version that wrote the resource and how to install it", async () => {
    const dir = projectWith();
    const message = await refusal((await storedProvider(dir)).read!("id", {}));
    assert.ok(message.startsWith(`this resource was written by ${PACKAGE_NAME} ${PACKAGE_VERSION}; `), message);
    assert.match(message, /cannot load it \(Cannot find module/);
    assert.ok(message.includes(fix), message);
    assert.ok(!message.includes("\n"), "one line");
  });

  it("where an older version is installed (0.1.0, which has no providerCall): names both versions", async () => {
    const dir = projectWith({ version: "0.1.0", index: "exports.dispatch = () => 1;" });
    const message = await refusal((await storedProvider(dir)).delete!("id", {}));
    assert.match(message, /loads 0\.1\.0, which cannot run it/);
    assert.ok(message.includes(fix), message);
  });

  it("where an older version that has providerCall is installed (the 0.1.x builds after 0.1.0): still refuses, naming both", async () => {
    const dir = projectWith({ version: "0.1.0", index: "exports.providerConfigure = () => undefined; exports.providerCall = async () => ({ ran: true });" });
    assert.match(await refusal((await storedProvider(dir)).read!("id", {})), /loads 0\.1\.0, which cannot run it/);
  });

  it("where a version of the same release line lacks the entry points: refuses rather than calling what is not there", async () => {
    const dir = projectWith({ version: PACKAGE_VERSION, index: "exports.providerCall = 1;" });
    assert.match(await refusal((await storedProvider(dir)).read!("id", {})), /which cannot run it/);
  });

  it("where this version or a newer one is installed: calls its providerCall with the type token", async () => {
    const [major, minor] = PACKAGE_VERSION.split(".").map(Number);
    const dir = projectWith({
      version: `${major}.${minor + 1}.0`,
      index: "exports.providerConfigure = () => undefined; exports.providerCall = async (type, method, args) => ({ type, method, args });",
    });
    const got = (await (await storedProvider(dir)).read!("id-1", { a: 1 })) as unknown;
    assert.deepEqual(got, { type: "exchange-kerberos:DnsRecord", method: "read", args: ["id-1", { a: 1 }] });
  });
});

describe("the package's version in state", () => {
  it("state written by a newer minor or major version is refused, naming both and what to install", async () => {
    const [major, minor] = PACKAGE_VERSION.split(".").map(Number);
    const newer = `${major}.${minor + 1}.0`;
    const e = await providerCall("exchange-kerberos:DnsRecord", "delete", ["id", { [PACKAGE_VERSION_KEY]: newer }]).then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof ConflictError, String(e));
    assert.equal(e.code, "STATE_FROM_NEWER_VERSION");
    assert.ok(e.message.includes(`written by ${PACKAGE_NAME} ${newer}, newer than the ${PACKAGE_VERSION}`), e.message);
  });

  it("check records this version in the inputs; create and update in the outputs; read keeps the version the outputs had", () => {
    const v = { [PACKAGE_VERSION_KEY]: PACKAGE_VERSION };
    assert.deepEqual(withPackageVersion("check", [{}, { a: 1 }], { inputs: { a: 1 } }), { inputs: { a: 1, ...v } });
    assert.deepEqual(withPackageVersion("create", [{ a: 1 }], { id: "x", outs: { a: 1 } }), { id: "x", outs: { a: 1, ...v } });
    assert.deepEqual(withPackageVersion("update", ["x", {}, { a: 1 }], { outs: { a: 2 } }), { outs: { a: 2, ...v } });
    assert.deepEqual(withPackageVersion("read", ["x", { a: 1, [PACKAGE_VERSION_KEY]: "0.2.0" }], { id: "x", props: { a: 3 } }), { id: "x", props: { a: 3, [PACKAGE_VERSION_KEY]: "0.2.0" } });
    // Outputs older releases wrote carry no version: a read does not invent one, and "gone" stays empty.
    assert.deepEqual(withPackageVersion("read", ["x", { a: 1 }], { id: "x", props: { a: 3 } }), { id: "x", props: { a: 3 } });
    assert.deepEqual(withPackageVersion("read", ["x", v], { id: "", props: {} }), { id: "", props: {} });
  });

  it("newer means a higher minor or major; patch releases read each other's state", () => {
    assert.equal(writtenByNewer("0.3.0", "0.2.9"), true);
    assert.equal(writtenByNewer("1.0.0", "0.9.0"), true);
    assert.equal(writtenByNewer("0.2.7", "0.2.0"), false);
    assert.equal(writtenByNewer("0.1.0", "0.2.0"), false);
  });

  it("a check that refuses returns the inputs as given, with no version recorded (consumer.test.ts sees a passing one record it)", async () => {
    const refused = (await providerCall("exchange-kerberos:DnsRecord", "check", [{}, { zone: "" }])) as { inputs: Record<string, unknown>; failures: unknown[] };
    assert.ok(refused.failures.length > 0);
    assert.equal(refused.inputs[PACKAGE_VERSION_KEY], undefined);
  });
});

describe("the program's check that its directory runs this very package", () => {
  it("passes where the project loads this version by name (this repository, through its self-link)", () => {
    assert.equal(versionLoadedFrom(REPO_ROOT), PACKAGE_VERSION);
    checkProjectLoadsThisPackage(REPO_ROOT);
  });

  it("refuses where the name does not load (another package's dependency, an alias, a bundle): one line with the fix", () => {
    const dir = projectWith();
    const sub = path.join(dir, "bundle");
    fs.mkdirSync(sub);
    assert.throws(() => checkProjectLoadsThisPackage(sub), (e: unknown) => {
      assert.ok(e instanceof InvalidProgramInputError);
      assert.equal(e.problems[0].code, "PACKAGE_NOT_IN_PROJECT");
      assert.ok(e.message.includes(`cannot load it by that name from ${sub}`), e.message);
      // The fix names the project (Pulumi.yaml's folder), where a user runs npm install.
      assert.ok(e.message.endsWith(`npm install ${PACKAGE_NAME}@${PACKAGE_VERSION} in ${dir} (pnpm add and yarn add alike; not under an alias; a bundler must leave ${PACKAGE_NAME} external)`), e.message);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
    assert.equal(projectDirectory(sub), dir);
  });

  it("refuses where the name loads another version", () => {
    const dir = projectWith({ version: "0.1.0", index: "" });
    assert.throws(() => checkProjectLoadsThisPackage(dir), (e: unknown) => e instanceof InvalidProgramInputError && e.problems[0].code === "PACKAGE_VERSION_MISMATCH" && e.message.includes(`${dir} loads 0.1.0 by that name`));
  });
});
