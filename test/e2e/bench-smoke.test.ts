// The benchmark still works: `scripts/bench --smoke` (N = 1; up, refresh, destroy of the site stack
// against a lab DC and the Exchange stand-in — a TEST DOUBLE — answering at once and under its
// realistic latency model, beside the no-op baseline) writes a Markdown table, a JSON file and an
// SVG plot, and their figures are the ones a real run needs: provider counters arrived from the
// provider processes, both stacks have the same shape, the stand-in's own count of sessions and
// operations agrees with ours, the model's delays were there, and at N = 1 our round trips are
// exactly the floor's. The full benchmark is `npm run bench`, never part of `npm test`.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { labAddr, run, startLab } from "../fixtures/lab";
import { REPO_ROOT } from "../fixtures/pulumi-cli";
import type { BenchResult, Measure } from "../../scripts/bench";

const LAB_ADDR = labAddr(6);

/**
 * The SVG, well-formed as xmllint (libxml2, a real XML parser) reads it, with each step's panel
 * and the two series in it: one polyline each, and the figures they plot.
 */
function readSvg(file: string): { width: number; height: number; panels: Map<string, Record<string, { lines: number; values: string }>> } {
  const lint = spawnSync("xmllint", ["--noout", file], { encoding: "utf8" });
  assert.strictEqual(lint.status, 0, `xmllint: the SVG is not well-formed XML:\n${lint.stderr}`);
  const svg = fs.readFileSync(file, "utf8");
  const root = /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="(\d+)" height="(\d+)"/.exec(svg);
  assert.ok(root, "an <svg> root in the SVG namespace, with its size");
  const panels = new Map<string, Record<string, { lines: number; values: string }>>();
  for (const p of svg.split('<g class="panel" ').slice(1)) {
    const step = /^data-step="([^"]*)"/.exec(p)![1];
    const series: Record<string, { lines: number; values: string }> = {};
    for (const m of p.matchAll(/<g data-series="(\w+)" data-values="([^"]*)">([\s\S]*?)<\/g>/g)) {
      series[m[1]] = { lines: (m[3].match(/<polyline /g) ?? []).length, values: m[2] };
    }
    panels.set(step, series);
  }
  return { width: Number(root[1]), height: Number(root[2]), panels };
}

describe("benchmark smoke run (scripts/bench --smoke: N = 1, lab DC + Exchange stand-in)", function () {
  this.timeout(900_000);

  let out: string;
  let result: BenchResult;
  let stdout: string;

  before(async function () {
    // Brought up (or reused) by this process, so mocha's teardown stops it; the bench reuses it.
    await startLab(LAB_ADDR);
    out = fs.mkdtempSync(path.join(os.tmpdir(), "bench-smoke-"));
    const r = await run("bash", [path.join(REPO_ROOT, "scripts", "bench"), "--smoke", "--no-setup", "--lab", LAB_ADDR, "--out", out], { timeoutMs: 600_000 });
    assert.strictEqual(r.code, 0, `scripts/bench --smoke failed (exit ${r.code}):\n${r.stderr}`);
    stdout = r.stdout;
    result = JSON.parse(fs.readFileSync(path.join(out, "bench.json"), "utf8")) as BenchResult;
  });

  after(function () {
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  it("measures up, refresh and destroy of both stacks at N = 1 in both latency models, with the machine described", function () {
    assert.strictEqual(result.smoke, true);
    assert.deepStrictEqual(result.sizes, { zero: [1], realistic: [1] });
    assert.deepStrictEqual(result.rows.map((r) => `${r.mode} ${r.step}`), ["zero up (from empty)", "zero refresh", "zero destroy", "realistic up (from empty)", "realistic refresh", "realistic destroy"]);
    assert.ok(result.machine.nproc >= 1 && result.machine.cpuModel.length > 0);
    assert.strictEqual(result.machine.loadAverageAtStart.length, 3);
    assert.match(result.machine.pulumi, /^v?\d+\.\d+\.\d+/);
    for (const r of result.rows) {
      assert.strictEqual(r.resources, 8, "1 DNS record, 1 URL set, 1 ASA, 1 binding, 1 AD password, 2 SPNs, 1 auth");
      for (const m of [r.ours, r.baseline] as Measure[]) {
        assert.ok(m.seconds > 0 && m.seconds < 300, `${r.step}: ${m.seconds} s`);
        assert.ok(m.providerProcesses >= 1, `${r.step}: no provider process wrote its stats`);
      }
      assert.strictEqual(r.ours.providerCalls, r.baseline.providerCalls, `${r.step}: the baseline must have the site stack's shape`);
      assert.deepStrictEqual([r.baseline.ldapOperations, r.baseline.psCalls], [0, 0], "the baseline does no I/O");
    }
  });

  it("counts our LDAP and PowerShell work, and the stand-in's own counters agree", function () {
    const [up, refresh, destroy] = result.rows.filter((r) => r.mode === "zero");
    // As a user runs them: `up` and `refresh` preview first (check; read and diff), then act.
    assert.strictEqual(up.ours.providerCalls, 24, "check at preview, then check and create, for each of 8 resources");
    assert.strictEqual(refresh.ours.providerCalls, 32, "read and diff at preview, then again, for each of 8 resources");
    assert.strictEqual(destroy.ours.providerCalls, 8, "delete for each of 8 resources");
    for (const r of result.rows) {
      assert.ok(r.ours.ldapConnections >= 1 && r.ours.ldapOperations >= 5, `${r.step}: LDAP ${r.ours.ldapConnections}/${r.ours.ldapOperations}`);
      assert.ok(r.ours.psSessions >= 1 && r.ours.psCalls >= 3, `${r.step}: PowerShell ${r.ours.psSessions}/${r.ours.psCalls}`);
      assert.deepStrictEqual([r.ours.standin?.sessions, r.ours.standin?.calls], [r.ours.psSessions, r.ours.psCalls], `${r.step}: the stand-in saw what we counted`);
      assert.ok(r.ours.longestQuietSeconds !== undefined && r.ours.longestQuietSeconds <= r.ours.seconds, `${r.step}: quiet ${r.ours.longestQuietSeconds}`);
    }
    assert.deepStrictEqual(refresh.ours.psCallsByOperation, { "Connect-EkExchange": 2, "Get-EkServerState": 2 }, "refresh: per pass one session and one read of the server");
    assert.ok((up.ours.ldapByOperation.add ?? 0) >= 1, "up adds the ASA");
    assert.ok((destroy.ours.ldapByOperation.delete ?? 0) >= 1, "destroy deletes the ASA");
    assert.ok(result.targets.some((t) => /LDAP connection per directory/.test(t.target)));
  });

  it("under the realistic model: every session open and call waited as modeled, and our round trips are exactly the floor's", function () {
    for (const step of ["up (from empty)", "refresh", "destroy"]) {
      const zero = result.rows.find((r) => r.mode === "zero" && r.step === step)!;
      const real = result.rows.find((r) => r.mode === "realistic" && r.step === step)!;
      const opens = real.ours.standin!.modeledMsPerOperation["Connect-EkExchange"] ?? 0;
      // One shared session per pass, and in up's second pass one on the server for its ASA credential.
      assert.strictEqual(real.ours.standin!.callsPerOperation["Connect-EkExchange"], real.ours.exchangePasses + (step === "up (from empty)" ? 1 : 0), `${step}: one session per pass`);
      assert.ok(opens >= real.ours.exchangePasses * result.models.realistic.sessionOpenMs * (1 - result.models.realistic.jitter), `${step}: the opens waited ${opens} ms`);
      assert.ok(real.ours.seconds > zero.ours.seconds + opens / 1000 / real.ours.exchangePasses, `${step}: ${real.ours.seconds} s realistic vs ${zero.ours.seconds} s at zero latency`);
      assert.ok(real.floor && real.floor.seconds > real.baseline.seconds, `${step}: a floor above the baseline`);
      assert.strictEqual(real.ours.psCalls, real.floor!.roundTrips, `${step}: round trips ${JSON.stringify(real.ours.psCallsByOperation)} vs the floor's ${real.floor!.roundTrips}`);
      assert.ok(real.ours.seconds >= real.floor!.seconds * 0.9, `${step}: ${real.ours.seconds} s, floor ${real.floor!.seconds} s`);
    }
  });

  it("writes the Markdown table (also on stdout) and an SVG plot", function () {
    const md = fs.readFileSync(path.join(out, "bench.md"), "utf8");
    assert.strictEqual(stdout, md);
    assert.match(md, /TEST DOUBLE/);
    assert.match(md, /\| N \| model \| step \| ours \(s\) \| baseline \(s\) \| ratio \| floor \(s\) \|/);
    for (const r of result.rows) {
      assert.match(md, new RegExp(`\\| 1 \\| ${r.mode} \\| ${r.step.replace(/[()]/g, "\\$&")} \\| ${r.ours.seconds.toFixed(2)} \\| ${r.baseline.seconds.toFixed(2)} \\| \\d+\\.\\d\\d× \\|`), md);
    }
    const svg = readSvg(path.join(out, "bench.svg"));
    assert.ok(svg.width >= 600 && svg.height >= 300, `${svg.width}×${svg.height}`);
    assert.deepStrictEqual([...svg.panels.keys()], result.rows.map((r) => `${r.step}, ${r.mode}`), "one panel per step and model");
    for (const r of result.rows) {
      assert.deepStrictEqual(
        svg.panels.get(`${r.step}, ${r.mode}`),
        { baseline: { lines: 1, values: `1:${r.baseline.seconds}` }, ours: { lines: 1, values: `1:${r.ours.seconds}` } },
        `${r.step}: one line per series, plotting the measured seconds`,
      );
    }
  });
});
