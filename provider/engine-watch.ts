// The dynamic-provider process ends when the Pulumi engine that started it is gone.
//
// The engine ends its plugins itself at the end of a run, but an engine killed with SIGKILL (`kill
// -9`, a cancelled CI job, an OOM kill) ends nothing: Node's dynamic-provider host
// (@pulumi/pulumi/cmd/dynamic-provider) serves gRPC with no check of the engine, so it, its LDAP
// connections and its PowerShell processes would stay behind for good. Pulumi's own plugins in Go
// (sdk/go/pulumi/provider/main.go) and its language hosts ask the engine's address every 5 minutes
// (rpcutil.Healthcheck) and stop when it no longer answers; we do the same from inside the
// provider, every second, by connecting to that address: a refused connection means no engine
// listens there any more. The PowerShell processes are ended on the way out (shell-process.ts):
// first in order, then at once.
import * as net from "node:net";

/** How often the engine's address is tried. */
const CHECK_EVERY_MS = 1000;

let watching = false;
/** What runs before the process exits because its engine is gone (the shells ending in order). */
const beforeExit: (() => Promise<void>)[] = [];

/** Registers `hook` to run (and be awaited) before the process exits because its engine is gone. */
export function beforeExitWhenEngineGone(hook: () => Promise<void>): void {
  beforeExit.push(hook);
}

/**
 * In the dynamic-provider host only (started as `…/cmd/dynamic-provider[/index.js] <engine
 * address>`), ends the process once the engine no longer listens at its address. Anywhere else (the
 * program, the doctor, a test calling the provider) it does nothing. Idempotent.
 */
export function exitWhenEngineGone(argv: readonly string[] = process.argv): void {
  if (watching) return;
  const address = engineAddress(argv);
  if (!address) return;
  watching = true;
  let leaving = false;
  const timer = setInterval(() => {
    const probe = net.connect(address);
    probe.once("connect", () => probe.destroy());
    probe.once("error", (e: NodeJS.ErrnoException) => {
      probe.destroy();
      if (e.code !== "ECONNREFUSED" || leaving) return;
      leaving = true;
      void Promise.allSettled(beforeExit.map((hook) => hook())).then(() => process.exit(1));
    });
  }, CHECK_EVERY_MS);
  timer.unref();
}

/** The engine's `host:port`, when `argv` is the dynamic-provider host's command line. */
export function engineAddress(argv: readonly string[]): { host: string; port: number } | undefined {
  if (!/[\\/]cmd[\\/]dynamic-provider([\\/]index\.js)?$/.test(argv[1] ?? "")) return undefined;
  for (const a of argv.slice(2)) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(a);
    if (m) return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
  }
  return undefined;
}
