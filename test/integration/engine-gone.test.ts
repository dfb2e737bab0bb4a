// The processes a `pulumi` run starts end once its engine is gone (a `kill -9` of pulumi ends no
// plugin): our language host (scripts/langhost, built into .tools/bin/pulumi-language-nodejs) and
// the dynamic provider with the PowerShell processes it spawned. Each is started here against an
// engine address of the test's own, which then goes away. The whole path, through the real CLI
// killed at every write, is test/e2e/write-points.test.ts.
import * as assert from "assert";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { engineAddress } from "../../provider/engine-watch";
import { REPO_ROOT } from "../fixtures/pulumi-cli";
import { isRunning } from "../fixtures/process-tree";

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The pids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid ? [Number(p)] : [];
    } catch {
      return [];
    }
  });
}

describe("processes end once their engine is gone", function () {
  this.timeout(60_000);
  const started: ChildProcess[] = [];
  /** Grandchildren to end should a test fail before they do. */
  const strays: number[] = [];
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "engine-gone-"));
  });
  after(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const pid of strays.filter(isRunning)) process.kill(pid, "SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads the engine's address from the dynamic-provider host's command line, and nowhere else", function () {
    const host = "/x/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js";
    assert.deepStrictEqual(engineAddress(["node", host, "127.0.0.1:38385"]), { host: "127.0.0.1", port: 38385 });
    assert.deepStrictEqual(engineAddress(["node", host, "--logtostderr", "-v=9", "127.0.0.1:4001"]), { host: "127.0.0.1", port: 4001 });
    assert.strictEqual(engineAddress(["node", "/x/cmd/run/index.js", "127.0.0.1:38385"]), undefined, "the program");
    assert.strictEqual(engineAddress(["node", "/x/dist/provider/cli.js", "doctor"]), undefined, "the doctor");
  });

  it("the language host stops serving once the engine no longer answers its health check", async function () {
    // An engine stand-in: a gRPC server with no service, whose health check answers UNIMPLEMENTED,
    // which a language host takes as alive (rpcutil.Healthcheck).
    const engine = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) => engine.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const host = spawn(path.join(REPO_ROOT, ".tools", "bin", "pulumi-language-nodejs"), [`127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
    started.push(host);
    let out = "";
    host.stdout?.on("data", (d) => (out += d));
    await until("the language host prints its port", () => /^\d+\n/.test(out), 10_000);
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(isRunning(host.pid!), "the language host serves while the engine answers");
    engine.forceShutdown();
    await until("the language host exits once the engine is gone", () => !isRunning(host.pid!), 10_000);
  });

  it("the dynamic provider exits, ending its PowerShell processes, once nobody listens at the engine's address", async function () {
    const engine = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => engine.listen(0, "127.0.0.1", r));
    const port = (engine.address() as net.AddressInfo).port;
    // A shell that would outlive the provider if nothing ended it (it never reads its input), and
    // one that reads its input to the end and then exits in order, as an idle PowerShell does.
    const shell = path.join(dir, "shell");
    fs.writeFileSync(shell, "#!/bin/sh\nexec sleep 600\n", { mode: 0o755 });
    const orderly = path.join(dir, "orderly-shell");
    const inOrder = path.join(dir, "ended-in-order");
    fs.writeFileSync(orderly, `#!/bin/sh\ncat >/dev/null\necho yes > ${JSON.stringify(inOrder)}\n`, { mode: 0o755 });
    // The provider's process as Pulumi starts it: `…/cmd/dynamic-provider/index.js <engine address>`.
    const hostDir = path.join(dir, "cmd", "dynamic-provider");
    fs.mkdirSync(hostDir, { recursive: true });
    const dist = path.join(REPO_ROOT, "dist", "provider");
    fs.writeFileSync(
      path.join(hostDir, "index.js"),
      [
        `require(${JSON.stringify(path.join(dist, "engine-watch.js"))}).exitWhenEngineGone();`,
        `const { ShellProcess } = require(${JSON.stringify(path.join(dist, "exchange", "shell-process.js"))});`,
        `new ShellProcess(${JSON.stringify(shell)}, process.env);`,
        `new ShellProcess(${JSON.stringify(orderly)}, process.env);`,
        "setInterval(() => undefined, 1000);",
      ].join("\n"),
    );
    const provider = spawn(process.execPath, [path.join(hostDir, "index.js"), `127.0.0.1:${port}`], { stdio: "ignore" });
    started.push(provider);
    await until("the provider starts its shells", () => childrenOf(provider.pid!).length === 2, 10_000);
    const shells = childrenOf(provider.pid!);
    strays.push(...shells);
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(isRunning(provider.pid!), "the provider runs while the engine listens");
    await new Promise((r) => engine.close(r));
    await until("the provider exits once the engine is gone", () => !isRunning(provider.pid!), 10_000);
    await until("its shells are ended with it", () => shells.every((p) => !isRunning(p)), 5_000);
    assert.ok(fs.existsSync(inOrder), "the idle shell read the end of its input and exited in order");
  });
});
