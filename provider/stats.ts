// The benchmark's window into a provider process (scripts/bench). When EXCHANGE_KERBEROS_STATS_FILE
// is set, every provider call, once done, rewrites <file>.<pid>.json with this process's counters:
// LDAP connections and operations, PowerShell sessions and operations, and how many provider calls
// each resource type received, per method. The engine may start several provider processes in one
// run: the benchmark sums their files. Unset (the normal case), this does nothing.
import * as fs from "node:fs";
import { ldapStats, LdapStats } from "./ldap/connection";
import { exchangeStats, ExchangeStats } from "./exchange/session-stats";

export const STATS_FILE_ENV = "EXCHANGE_KERBEROS_STATS_FILE";

export interface ProviderProcessStats {
  pid: number;
  ldap: LdapStats;
  exchange: ExchangeStats;
  /** Provider calls per resource type (its type token, such as exchange-kerberos:Spn), per method. */
  calls: Record<string, Record<string, number>>;
}

const calls: Record<string, Record<string, number>> = {};

/** Counts one finished provider call and, when the benchmark asks for it, writes the counters. */
export function recordProviderCall(resourceType: string, method: string): void {
  // Outside the benchmark nothing is counted or written.
  const file = process.env[STATS_FILE_ENV];
  if (!file) return;
  const perType = (calls[resourceType] ??= {});
  perType[method] = (perType[method] ?? 0) + 1;
  const snapshot: ProviderProcessStats = { pid: process.pid, ldap: ldapStats(), exchange: exchangeStats(), calls };
  const target = `${file}.${process.pid}.json`;
  try {
    // Written whole then renamed, so a reader never sees half a file.
    fs.writeFileSync(`${target}.tmp`, JSON.stringify(snapshot));
    fs.renameSync(`${target}.tmp`, target);
  } catch (e) {
    // A benchmark's bookkeeping must not fail (or mask the error of) the provider call itself.
    process.stderr.write(`${STATS_FILE_ENV}: cannot write ${target}: ${(e as Error).message}\n`);
  }
}
