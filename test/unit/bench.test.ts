// The benchmark's own arithmetic (scripts/bench.ts) and the stand-in's latency model
// (test/fixtures/exchange-standin/latency.ts): the floor a step is judged against, the quiet gap,
// the fit, and the targets' verdicts, on figures made up here so that each can fail.
import * as assert from "node:assert/strict";
import { evaluateTargets, fit, floorOf, longestQuiet, type Measure, type Row } from "../../scripts/bench";
import { jittered, LATENCY_MODELS, modeledMs } from "../fixtures/exchange-standin/latency";

function measure(over: Partial<Measure> = {}): Measure {
  return {
    seconds: 10,
    providerProcesses: 2,
    providerCalls: 0,
    providerCallsByType: {},
    ldapConnections: 2,
    ldapConnectionsByUrl: {},
    ldapConnectionsPerUrlPerProcess: 1,
    ldapOperations: 10,
    ldapByOperation: { search: 10 },
    psSessions: 2,
    psSessionsByEndpoint: {},
    psSessionsPerEndpointPerProcess: 1,
    psCalls: 0,
    psCallsByOperation: {},
    exchangePasses: 2,
    ...over,
  };
}

describe("the benchmark's arithmetic", () => {
  it("the realistic model: an open costs the open time, a call its round trip plus its cmdlets; jitter stays within its fraction", () => {
    const m = LATENCY_MODELS.realistic;
    assert.equal(modeledMs(m, "open", 5), 8000);
    assert.equal(modeledMs(m, "call", 8), 900 + 8 * 100);
    assert.equal(jittered(m, 1000, 0), 900);
    assert.equal(jittered(m, 1000, 0.5), 1000);
    assert.ok(jittered(m, 1000, 0.9999) <= 1100);
    assert.equal(jittered(LATENCY_MODELS.zero, 1000, 0), 1000, "no jitter in the zero model");
    assert.equal(LATENCY_MODELS.zero.maxSessionsPerUser, 0, "zero: no session limit (functional tests)");
  });

  it("the floor: per pass one open, the calls made once, and ceil(N / pool) rounds of each server's calls (the ASA's, on each server, side by side), at the step's own mean costs", () => {
    // refresh: two passes of one Get-EkServerState per server; 50 servers, pool 6 → 9 rounds.
    const ours = measure({
      standin: {
        sessions: 12,
        calls: 112,
        callsPerOperation: { "Connect-EkExchange": 12, "Get-EkServerState": 100 },
        modeledMsPerOperation: { "Connect-EkExchange": 12 * 8000, "Get-EkServerState": 100 * 1700 },
        throttled: 0,
      },
    });
    const f = floorOf("refresh", 50, 6, ours, measure({ seconds: 3 }))!;
    assert.equal(f.seconds.toFixed(6), (3 + 2 * (8 + 9 * 1.7)).toFixed(6));
    assert.equal(f.roundTrips, 2 * (1 + 50));
    // rotation: Get-EkServerInfo once per pass, then one Set-EkAsaCredential per server, each in a
    // session on its server (an open and the call, the 50 side by side).
    const rot = measure({
      standin: {
        sessions: 57,
        calls: 109,
        callsPerOperation: { "Connect-EkExchange": 57, "Get-EkServerInfo": 2, "Set-EkAsaCredential": 50 },
        modeledMsPerOperation: { "Connect-EkExchange": 57 * 8000, "Get-EkServerInfo": 2 * 5900, "Set-EkAsaCredential": 50 * 1100 },
        throttled: 0,
      },
    });
    const g = floorOf("up (rotation)", 50, 6, rot, measure({ seconds: 10 }))!;
    assert.equal(Math.round(g.seconds * 1000), Math.round((10 + (8 + 5.9) + (8 + 5.9 + 8 + 1.1)) * 1000));
    assert.equal(g.roundTrips, 2 + (2 + 2 * 50));
    assert.equal(floorOf("refresh", 50, 6, measure(), measure()), undefined, "no floor without the stand-in's counts");
  });

  it("the quiet gap counts from the command's start to its end, between the lines that named a resource", () => {
    assert.equal(longestQuiet(0, [1000, 1500, 9000], 9500), 7.5);
    assert.equal(longestQuiet(0, [], 4000), 4);
    assert.equal(longestQuiet(0, [12000], 13000), 12);
  });

  it("the fit: a straight line has R² 1, scattered points less", () => {
    const line = fit([[1, 3], [5, 7], [20, 22]]);
    assert.deepEqual([line.slope, line.intercept, line.r2], [1, 2, 1]);
    assert.ok(fit([[1, 1], [5, 9], [20, 2], [50, 8], [200, 3]]).r2 < 0.95);
  });

  it("the verdicts: zero latency against 1.15× the baseline, realistic against the floor, sessions against the pool", () => {
    const row = (over: Partial<Row>): Row => ({ n: 50, mode: "zero", step: "refresh", resources: 155, adResources: 5, exchangeResources: 150, ours: measure(), baseline: measure(), ...over });
    const rows: Row[] = [
      row({ ours: measure({ seconds: 11.4 }), baseline: measure({ seconds: 10 }) }),
      row({ step: "preview (new stack)", ours: measure({ seconds: 11.6 }), baseline: measure({ seconds: 10 }) }),
      row({ mode: "realistic", ours: measure({ seconds: 50, psSessionsPerEndpointPerProcess: 7 }), floor: { seconds: 40, roundTrips: 102, detail: "…" } }),
      row({ mode: "realistic", step: "up (rotation)", ours: measure({ seconds: 52 }), floor: { seconds: 40, roundTrips: 54, detail: "…" } }),
    ];
    const verdict = (re: RegExp) => evaluateTargets(rows, [], 6).find((t) => re.test(t.target))?.met;
    assert.equal(verdict(/zero latency: refresh at N=50/), true);
    assert.equal(verdict(/zero latency: preview \(new stack\) at N=50/), false);
    assert.equal(verdict(/realistic latency: refresh at N=50 within 1.2×/), false, "50 s against a 40 s floor is 1.25×");
    assert.equal(verdict(/realistic latency: up \(rotation\) at N=50 within 1.3×/), true);
    assert.equal(verdict(/at most exchangeSessions \(6\)/), false, "7 sessions to one endpoint in one process");
  });
});
