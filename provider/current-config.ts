// Connection settings from the stack's CURRENT config on refresh and destroy.
//
// `pulumi refresh` and `pulumi destroy` do not run the program (unless --run-program), so the
// engine configures the dynamic provider with the config recorded in state at the last `up`: a
// changed exchangeEndpoint, LDAP URL or password would be ignored, and a decommissioned endpoint
// would block both commands. The engine calls `check` for every resource the program declares, so
// a provider process that is asked to read, diff, update or delete before any check was configured
// from state. It then asks the CLI for the stack's config as it is now (`pulumi config --json
// --show-secrets --stack <stack>`, the stack named by the resource's recorded URN, in the project
// directory the engine started it in, with the environment the CLI gave it) and uses that instead.
// When that is not possible (no pulumi on PATH, a passphrase typed interactively), it warns once
// and keeps the recorded settings.
import { spawnSync } from "child_process";
import { warn } from "./errors";
import { configFromMap, configureFromCurrentStack } from "./settings";

let programRan = false;
let settled = false;

/** A `check` came: the program runs and `configure` had the current config. */
export function noteProgramRuns(): void {
  programRan = true;
}

/** Before a read, diff, update or delete: make sure the settings are the stack's current ones. */
export function useCurrentConfig(resourceUrn: unknown): void {
  if (programRan || settled) return;
  const m = typeof resourceUrn === "string" ? /^urn:pulumi:([^:]+)::/.exec(resourceUrn) : null;
  if (!m) return; // state written before resources recorded their URN: nothing names the stack
  settled = true;
  const stack = m[1];
  const r = spawnSync("pulumi", ["config", "--json", "--show-secrets", "--stack", stack, "--non-interactive"], { encoding: "utf8", timeout: 60_000, env: process.env });
  if (r.status !== 0 || r.error) {
    const why = (r.error?.message ?? r.stderr ?? "").split("\n").find((l) => l.trim() !== "")?.trim() ?? `exit ${r.status}`;
    warn(`could not read stack ${stack}'s current config (${why}); using the connection settings recorded at the last pulumi up. If they changed, run pulumi up first, or add --run-program`);
    return;
  }
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(JSON.parse(r.stdout) as Record<string, { value?: unknown; objectValue?: unknown }>)) {
    if (typeof v.value === "string") values[k] = v.value;
    else if (v.objectValue !== undefined) values[k] = JSON.stringify(v.objectValue);
  }
  configureFromCurrentStack(configFromMap(values));
}
