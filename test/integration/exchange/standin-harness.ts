// Runs the provider's Exchange resources against the Exchange stand-in (a TEST DOUBLE, launched in
// place of pwsh): a throwaway state file per suite, stack config pointing the shell at the
// stand-in, and the shared sessions closed between suites (each suite has its own state file).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { configFromMap, configureFromStack } from "../../../provider/settings";
import { closeExchangeSessions, resetExchangeStats } from "../../../provider/exchange/session";
import { readTranscript, seedServers, standinExecutable, STATE_ENV, type ServerSeed, type StandinState } from "../../fixtures/exchange-standin/state";

export interface Harness {
  dir: string;
  stateFile: string;
  /** Every script line the stand-in received (node-powershell's delimiters included). */
  scriptLines(): string[];
  done(): Promise<void>;
}

export async function startStandin(seeds: ServerSeed[], config: Record<string, string> = {}, extra: Partial<StandinState> = {}): Promise<Harness> {
  await closeExchangeSessions();
  resetExchangeStats();
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
