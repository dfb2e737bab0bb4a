// Every write point converges: four scenarios (up from empty, a rotation, a namespace move,
// destroy) through the real pulumi CLI against a lab Samba AD DC behind a fault proxy and the
// Exchange stand-in (a TEST DOUBLE for Exchange). Each scenario first runs without a fault, which
// counts its writes (LDAP adds, modifies, deletes, modify DNs; the stand-in's Set- and Remove-
// operations) and records what it leaves. Then, from the same known state each time, the scenario
// runs again with one crash at one write:
//   (a) lose    the write commits and its answer is lost (the connection or the session drops);
//   (b) refuse  the write is refused (an LDAP error; an Exchange error naming the object);
//   (c) kill    `pulumi` itself is killed with SIGKILL right after the write is sent.
// After (c), the recovery of docs/guides/when-up-is-interrupted.md: `pulumi cancel --yes`, then
// `pulumi refresh --clear-pending-creates --yes`. Then the scenario's command again, and:
//   - it exits 0 (the first time: a point that needs more runs fails, and says how many);
//   - `pulumi preview --expect-no-changes` passes and the doctor exits 0 (not after destroy; the
//     doctor's HTTPS check is off: no front door stands behind the namespace here);
//   - AD, the stand-in and the stack's state hold exactly what the fault-free run left: no orphan
//     or duplicate account, SPN, record or credential, no pending operation;
//   - no password in any output, state or process argument;
//   - no process of any run (the killed one included) is left: engine, language host, program,
//     provider, the Exchange shells.
//
// `npm test` runs the subset below; `npm run chaos` runs every point with every crash
// (EK_WRITE_POINTS=all). EK_WRITE_POINTS=up:3:kill,destroy:delete CN=EXCH-ASA:lose runs those
// points only (by number, or by a part of the write).
import * as assert from "assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { CRASHES, CRASH_TITLES, Crash, PointOutcome, Reference, SCENARIOS, Scenario, WritePoint, WritePointLab } from "../fixtures/write-points";

const SELECTION = process.env.EK_WRITE_POINTS ?? "subset";

/**
 * The subset `npm test` runs, one point per scenario (each costs three to four CLI runs, a DC
 * restart and the doctor): its middle write (the ⌈n/2⌉-th of n), under the crash that turns from one
 * scenario to the next: up (c) kill, rotation (a) lose, namespace move (b) refuse, destroy (c) kill.
 */
function subset(s: Scenario, ref: Reference): [WritePoint, Crash][] {
  const crash = CRASHES[(SCENARIOS.indexOf(s) + 2) % CRASHES.length];
  return [[ref.points[Math.ceil(ref.points.length / 2) - 1], crash]];
}

function selected(s: Scenario, ref: Reference): [WritePoint, Crash][] {
  if (SELECTION === "all") return ref.points.flatMap((p) => CRASHES.map((c): [WritePoint, Crash] => [p, c]));
  if (SELECTION === "subset") return subset(s, ref);
  return SELECTION.split(",").flatMap((item) => {
    const [name, which, crash] = item.split(":");
    if (name !== s.name) return [];
    // A point by its number in the fault-free run, or by a part of its write (the order of writes
    // made side by side can differ between runs; their names do not).
    const point = /^\d+$/.test(which) ? ref.points[Number(which) - 1] : ref.points.find((p) => p.write.includes(which));
    assert.ok(point && CRASHES.includes(crash as Crash), `EK_WRITE_POINTS: ${item} is not <scenario>:<point 1..${ref.points.length}, or a part of its write>:<${CRASHES.join("|")}>`);
    return [[point, crash as Crash]];
  });
}

const label = (o: PointOutcome) => `${o.scenario} #${o.point.index} (${o.point.channel} ${o.point.write}${o.point.occurrence > 1 ? `, #${o.point.occurrence} of that name` : ""}) ${CRASH_TITLES[o.crash]}`;

describe(`write points converge (${SELECTION}; real pulumi CLI, lab DC behind a fault proxy, Exchange stand-in)`, function () {
  this.timeout(SELECTION === "all" ? 12 * 3600_000 : 1_200_000);

  let bench: WritePointLab;
  const started = Date.now();
  const refs: Reference[] = [];
  const outcomes: PointOutcome[] = [];

  before(async function () {
    bench = await WritePointLab.start({ labHost: 47, proxyPort: 1636 });
  });

  after(async function () {
    const report = summary(refs, outcomes, (Date.now() - started) / 1000);
    console.log(report.split("\n").map((l) => `      ${l}`).join("\n"));
    const out = process.env.EK_WRITE_POINTS_REPORT;
    if (out) {
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, JSON.stringify({ selection: SELECTION, seconds: (Date.now() - started) / 1000, references: refs.map((r) => ({ scenario: r.scenario.name, seconds: r.seconds, points: r.points })), outcomes }, null, 2));
    }
    await bench?.close();
  });

  for (const s of SCENARIOS) {
    it(`${s.title}: each selected write point converges after each crash`, async function () {
      // A list of points names its scenarios: the others have nothing to run.
      if (!["all", "subset"].includes(SELECTION) && !SELECTION.split(",").some((i) => i.startsWith(`${s.name}:`))) return;
      const ref = await bench.reference(s);
      refs.push(ref);
      assert.ok(ref.points.length > 0, `${s.name} made no write`);
      const failed: PointOutcome[] = [];
      for (const [point, crash] of selected(s, ref)) {
        // A point that cannot even be run (the lab fails to restore) is a failure of that point,
        // and the enumeration goes on with the next.
        const o = await bench.runPoint(s, ref, point, crash).catch((e: Error): PointOutcome => ({ scenario: s.name, point, crash, faultedExit: NaN, extraRuns: 0, seconds: 0, phases: {}, pendingAfterKill: [], backendRepaired: [], problems: [`the point could not be run: ${e.message}`] }));
        outcomes.push(o);
        console.log(`      ${o.problems.length ? "FAILED" : "ok"} ${label(o)}: ${o.seconds.toFixed(1)} s, exit ${o.faultedExit}, ${o.extraRuns} run(s) after (${Object.entries(o.phases).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")})`);
        if (o.problems.length) failed.push(o);
      }
      assert.deepStrictEqual(failed.map((o) => `${label(o)}:\n${o.problems.join("\n")}`), [], "every point converges");
    });
  }
});

/** The report `npm run chaos` prints (and docs/guides/when-up-is-interrupted.md quotes). */
function summary(refs: Reference[], outcomes: PointOutcome[], seconds: number): string {
  const lines = [`write points: ${SELECTION}, ${(seconds / 60).toFixed(1)} min in all`];
  lines.push("| scenario | writes (LDAP + Exchange) | fault-free run (s) | crashes run | converged | runs after the crash | wall time (min) |", "|---|---:|---:|---:|---:|---|---:|");
  for (const r of refs) {
    const mine = outcomes.filter((o) => o.scenario === r.scenario.name);
    const ldap = r.points.filter((p) => p.channel === "ldap").length;
    const runs = [...new Set(mine.map((o) => o.extraRuns))].sort().map((n) => `${n}: ${mine.filter((o) => o.extraRuns === n).length}`).join(", ");
    const minutes = mine.reduce((t, o) => t + o.seconds, 0) / 60;
    lines.push(`| ${r.scenario.title} | ${r.points.length} (${ldap} + ${r.points.length - ldap}) | ${r.seconds.toFixed(1)} | ${mine.length} | ${mine.filter((o) => !o.problems.length).length} | ${runs || "—"} | ${minutes.toFixed(1)} |`);
  }
  const kills = outcomes.filter((o) => o.crash === "kill");
  if (kills.length) {
    const left = kills.flatMap((o) => o.pendingAfterKill.map((p) => p.split(" ")[0]));
    const kinds = [...new Set(left)].map((k) => `${k} ×${left.filter((x) => x === k).length}`).join(", ");
    lines.push(`the kills left the lock and ${left.length} pending operation(s) in ${kills.length} run(s): ${kinds || "none"}`);
    const repaired = kills.filter((o) => o.backendRepaired.length);
    lines.push(`kills that left an empty .attrs file in the file backend (deleted as docs/guides/when-up-is-interrupted.md says): ${repaired.length ? repaired.map((o) => `${label(o)}: ${o.backendRepaired.join(", ")}`).join("; ") : "none"}`);
    const gone = kills.map((o) => o.killedRunGoneMs ?? 0);
    lines.push(`the killed runs' processes (engine, language host, program, provider, Exchange shells) ended within ${(Math.max(...gone) / 1000).toFixed(1)} s of the kill (median ${(gone.sort((a, b) => a - b)[Math.floor(gone.length / 2)] / 1000).toFixed(1)} s)`);
  }
  const more = outcomes.filter((o) => o.extraRuns > 1);
  lines.push(`points needing more than one run after the crash: ${more.length ? more.map(label).join("; ") : "none"}`);
  const failed = outcomes.filter((o) => o.problems.length);
  lines.push(`points that did not converge: ${failed.length ? failed.map(label).join("; ") : "none"}`);
  return lines.join("\n");
}
