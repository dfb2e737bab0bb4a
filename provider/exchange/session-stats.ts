// The counters of this process's PowerShell sessions, read by the benchmark (provider/stats.ts) and
// the tests; the session (session.ts) is their only writer.

export interface EndpointStats {
  sessionsStarted: number;
  calls: number;
}

export interface ExchangeStats {
  /** PowerShell processes started (first starts and restarts). */
  sessionsStarted: number;
  /** Restarts of a session found dead. */
  restarts: number;
  /** Operations sent, in total and per operation (Connect-EkExchange included: once per session). */
  calls: number;
  callsPerOperation: Record<string, number>;
  timeouts: number;
  /** Per session key (shell | connection | endpoint | authentication | user). */
  endpoints: Record<string, EndpointStats>;
}

const stats: ExchangeStats = { sessionsStarted: 0, restarts: 0, calls: 0, callsPerOperation: {}, timeouts: 0, endpoints: {} };

/** Counters for this process: how many sessions were started and operations called. */
export function exchangeStats(): ExchangeStats {
  return JSON.parse(JSON.stringify(stats)) as ExchangeStats;
}

function endpoint(key: string): EndpointStats {
  return (stats.endpoints[key] ??= { sessionsStarted: 0, calls: 0 });
}

export function countSessionStarted(key: string): void {
  stats.sessionsStarted++;
  endpoint(key).sessionsStarted++;
}

export function countRestart(): void {
  stats.restarts++;
}

export function countCall(key: string, op: string): void {
  stats.calls++;
  stats.callsPerOperation[op] = (stats.callsPerOperation[op] ?? 0) + 1;
  endpoint(key).calls++;
}

export function countTimeout(): void {
  stats.timeouts++;
}
