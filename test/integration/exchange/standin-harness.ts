// Runs the provider's Exchange resources against the Exchange stand-in (a TEST DOUBLE, launched in
// place of pwsh): a throwaway state file per suite, stack config pointing the shell at the
// stand-in, and the shared sessions closed between suites (each suite has its own state file).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { configFromMap, configureFromStack } from "../../../provider/settings";
import { closeExchangeSessions } from "../../../provider/exchange/session";
import { exchangeStats, type ExchangeStats } from "../../../provider/exchange/session-stats";
import { readTranscript, seedServers, standinExecutable, STATE_ENV, type ServerSeed, type StandinState } from "../../fixtures/exchange-standin/state";

export interface Harness {
  dir: string;
  stateFile: string;
  /** Every script line the stand-in received (the framing's delimiter lines included). */
  scriptLines(): string[];
  done(): Promise<void>;
}

export async function startStandin(seeds: ServerSeed[], config: Record<string, string> = {}, extra: Partial<StandinState> = {}): Promise<Harness> {
  await closeExchangeSessions();
  markExchangeStats();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ek-standin-"));
  const stateFile = path.join(dir, "exchange.json");
  // The stand-in processes inherit this from the test process (session.ts passes process.env on).
  process.env[STATE_ENV] = stateFile;
  seedServers(stateFile, seeds, extra);
  configureFromStack(configFromMap({ exchangeShell: standinExecutable(), exchangeTimeoutMs: "20000", ...config }));
  return {
    dir,
    stateFile,
    scriptLines: () => readTranscript(stateFile).flatMap((e) => (e.t === "script" ? [e.text] : [])),
    done: async () => {
      await closeExchangeSessions();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

let mark: ExchangeStats = exchangeStats();

/** Starts counting the provider's Exchange statistics from now (see exchangeStatsSinceMark). */
export function markExchangeStats(): void {
  mark = exchangeStats();
}

const minus = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]).filter(([, v]) => v !== 0));

/** The provider's Exchange statistics since the last mark (the package keeps process-wide totals). */
export function exchangeStatsSinceMark(): ExchangeStats {
  const now = exchangeStats();
  const endpoints: ExchangeStats["endpoints"] = {};
  for (const [key, e] of Object.entries(now.endpoints)) {
    const was = mark.endpoints[key] ?? { sessionsStarted: 0, calls: 0 };
    if (e.sessionsStarted !== was.sessionsStarted || e.calls !== was.calls) endpoints[key] = { sessionsStarted: e.sessionsStarted - was.sessionsStarted, calls: e.calls - was.calls };
  }
  return {
    sessionsStarted: now.sessionsStarted - mark.sessionsStarted,
    restarts: now.restarts - mark.restarts,
    calls: now.calls - mark.calls,
    callsPerOperation: minus(now.callsPerOperation, mark.callsPerOperation),
    timeouts: now.timeouts - mark.timeouts,
    endpoints,
  };
}
