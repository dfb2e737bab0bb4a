// The shell process the session spawns (provider/exchange/shell-process.ts), driven with tiny sh
// scripts in place of PowerShell: what it does when the shell cannot start, exits mid-call, does
// not answer in time, or sits idle. Nothing here speaks PowerShell; the protocol is covered by the
// stand-in's tests (test/integration/exchange).
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ShellExited, ShellNotStarted, ShellProcess, ShellTimedOut, SHELL_ARGUMENTS } from "../../../provider/exchange/shell-process";
import { isRunning } from "../../fixtures/process-tree";

describe("the PowerShell process (sh scripts in its place)", function () {
  this.timeout(20_000);
  let dir: string;
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
  };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "ek-shell-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("passes the fixed arguments and the environment, never a value, and reads one framed answer", async () => {
    // Echoes what it was started with, then answers each framed line as PowerShell would: the
    // delimiter lines print their id, the script line prints its own length.
    const echo = script(
      "echo.sh",
      `while IFS= read -r line; do
  case "$line" in
    '[Console]::Error.WriteLine("'*) id=\${line#*\\"}; echo "\${id%%\\"*}" >&2 ;;
    '[Console]::Out.WriteLine("'*) id=\${line#*\\"}; echo "\${id%%\\"*}" ;;
    *) echo "args=$* key=$EK_TEST_KEY len=\${#line}" ;;
  esac
done`,
    );
    const shell = new ShellProcess(echo, { PATH: process.env.PATH, EK_TEST_KEY: "from-env" });
    try {
      assert.equal(await shell.invoke("abc", 5000), `args=${SHELL_ARGUMENTS.join(" ")} key=from-env len=3`);
      assert.equal(await shell.invoke("abcdef", 5000), `args=${SHELL_ARGUMENTS.join(" ")} key=from-env len=6`, "a second call on the same process");
    } finally {
      shell.kill();
    }
  });

  it("a shell that cannot be started fails the call as not started (the session says: could not start)", async () => {
    const shell = new ShellProcess(path.join(dir, "no-such-shell"), process.env);
    await assert.rejects(shell.invoke("x", 5000), ShellNotStarted);
    assert.ok(shell.exited);
  });

  it("a shell that exits during the call fails it as exited, and refuses the next call at once", async () => {
    const shell = new ShellProcess(script("exit.sh", "read -r line; exit 3"), process.env);
    await assert.rejects(shell.invoke("x", 5000), (e: unknown) => e instanceof ShellExited && /code 3/.test((e as Error).message));
    assert.ok(shell.exited);
    await assert.rejects(shell.invoke("y", 5000), ShellExited);
  });

  it("a call that does not answer in time fails as timed out, and the process is killed", async () => {
    const pidFile = path.join(dir, "hang.pid");
    const shell = new ShellProcess(script("hang.sh", `echo $$ > '${pidFile}'; exec sleep 30`), process.env);
    const started = Date.now();
    await assert.rejects(shell.invoke("x", 800), ShellTimedOut);
    assert.ok(Date.now() - started < 5000);
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    for (let i = 0; i < 50 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!isRunning(pid), `the shell process ${pid} was killed`);
  });

  it("the shell runs in a process group of its own: a signal to the provider's group (Pulumi ending a provider) does not reach it, and it ends in order when the provider goes", () => {
    const log = path.join(dir, "group.log");
    const shellScript = script("group.sh", `trap 'echo INT >> "${log}"' INT\necho "pgid $(ps -o pgid= -p $$ | tr -d ' ') pid $$" >> "${log}"\nwhile IFS= read -r line; do :; done\necho EOF >> "${log}"`);
    // A provider in a group of its own, as the engine starts one; it starts the shell, then the
    // engine's SIGINT goes to the provider's group, and the provider exits.
    const provider = `const { ShellProcess } = require(${JSON.stringify(require.resolve("../../../provider/exchange/shell-process"))});
new ShellProcess(${JSON.stringify(shellScript)}, process.env);
setTimeout(() => { process.kill(-process.pid, "SIGINT"); }, 500);`;
    const r = spawnSync("setsid", [process.execPath, "-e", provider], { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.error, undefined, String(r.error));
    for (let i = 0; i < 50 && !(fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("EOF")); i++) spawnSync("sleep", ["0.1"]);
    const lines = fs.readFileSync(log, "utf8").trim().split("\n");
    const [, pgid, , pid] = lines[0].split(" ");
    assert.equal(pgid, pid, "the shell leads a group of its own");
    assert.deepEqual(lines.slice(1), ["EOF"], "no SIGINT reached it; it read the end of its input once the provider was gone");
  });

  it("an idle shell does not keep the provider process alive", () => {
    const idle = script("idle.sh", "exec sleep 5");
    const started = Date.now();
    const r = spawnSync(process.execPath, ["-e", `const { ShellProcess } = require(${JSON.stringify(require.resolve("../../../provider/exchange/shell-process"))}); new ShellProcess(${JSON.stringify(idle)}, process.env);`], { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Date.now() - started < 4000, `node exited after ${Date.now() - started} ms, not when the idle shell did`);
  });
});
