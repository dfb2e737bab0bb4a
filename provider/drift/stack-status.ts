// What `drift` must know about a stack before it may judge the site from it:
// - Busy: an operation holds the stack (its lock), has pending operations in state, or wrote state
//   while drift read the site. Then what drift reads may be that operation's work in progress (a
//   rotation half done reads as "a credential replaced by hand"), so it judges nothing.
// - Behind: this checkout's site config differs from the config the last `pulumi up` applied. Then
//   the preview would report the other operator's applied change as drift and advise undoing it.
//
// The config applied: the engine records the stack's whole config, at each `up`, as the inputs of
// the dynamic provider (`pulumi:providers:pulumi-nodejs`) in state; `refresh` and `destroy` do not
// run the program and leave it as the last `up` wrote it. Only the site keys are compared (what the
// site is declared to be); connection settings are always the current ones (settings.ts).
//
// The lock: pulumi 3.260 offers no read-only command that reports a DIY backend's lock (`pulumi up`
// refuses on it, a preview ignores it, `stack ls` reports `updateInProgress` only for Pulumi Cloud),
// so it is read where the backend keeps it: `file://` (a folder) and `postgres://` (a row of the
// table, read with psql); for Pulumi Cloud, `pulumi stack ls --json`. For other backends only the
// pending operations and a change during the check are seen.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { CONFIG_NAMESPACE } from "../settings";
import { SITE_KEYS } from "../site-config";

export interface StateRead {
  /** The stack's pending operations (an operation running, or one interrupted). */
  pendingOperations: { op: string; urn: string }[];
  /** A hash of the resources and pending operations: a write in between changes it. */
  fingerprint: string;
  /** The site config the last `up` applied, key → value (secrets decrypted, never shown). */
  applied?: Record<string, string>;
  /** When the provider's config was recorded (its `modified`), if state says. */
  appliedAt?: string;
}

interface ExportedResource {
  urn?: string;
  type?: string;
  inputs?: Record<string, unknown>;
  modified?: string;
}

const siteKeys = new Set(SITE_KEYS.map((k) => `${CONFIG_NAMESPACE}:${k}`));

/** A config value as state records it: a plain string, or a secret `{ plaintext: JSON }` once shown. */
function recordedValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (v !== null && typeof v === "object" && typeof (v as { plaintext?: unknown }).plaintext === "string") {
    const p = JSON.parse((v as { plaintext: string }).plaintext) as unknown;
    return typeof p === "string" ? p : JSON.stringify(p);
  }
  return JSON.stringify(v);
}

/** The parts of a `pulumi stack export --show-secrets` that drift reads. */
export function readExport(text: string): StateRead {
  const d = (JSON.parse(text) as { deployment?: { resources?: ExportedResource[]; pending_operations?: { type?: string; resource?: { urn?: string } }[] } }).deployment ?? {};
  const resources = d.resources ?? [];
  const pending = (d.pending_operations ?? []).map((p) => ({ op: String(p.type ?? "?"), urn: String(p.resource?.urn ?? "?") }));
  const fingerprint = createHash("sha256").update(JSON.stringify([resources, d.pending_operations ?? []])).digest("hex");
  const provider = resources.find((r) => r.type === "pulumi:providers:pulumi-nodejs" && /::default$/.test(r.urn ?? ""));
  if (!provider) return { pendingOperations: pending, fingerprint };
  const applied: Record<string, string> = {};
  for (const [k, v] of Object.entries(provider.inputs ?? {})) if (siteKeys.has(k)) applied[k] = recordedValue(v);
  return { pendingOperations: pending, fingerprint, applied, appliedAt: provider.modified };
}

/** `pulumi config --json --show-secrets` → key → value, site keys only. */
export function readConfig(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(JSON.parse(text) as Record<string, { value?: unknown; objectValue?: unknown }>)) {
    if (!siteKeys.has(k)) continue;
    out[k] = typeof v.value === "string" ? v.value : JSON.stringify(v.objectValue ?? v.value);
  }
  return out;
}

/** The site keys whose value in this checkout differs from the one the last `up` applied. */
export function keysBehind(checkout: Record<string, string>, applied: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(checkout), ...Object.keys(applied)]);
  return [...keys].filter((k) => checkout[k] !== applied[k]).sort();
}

export interface LockRead {
  /** Who holds the stack's lock, one line each (empty: not locked). */
  holders: string[];
  /** Set when this backend's lock cannot be read (only pending operations are seen then). */
  unreadable?: string;
}

/** The lock file's text as the DIY backend writes it (lock.go `lockContent`), as one line. */
function holder(key: string, text: string): string {
  try {
    const l = JSON.parse(text) as { username?: string; hostname?: string; pid?: number; timestamp?: string };
    return `${l.username ?? "?"}@${l.hostname ?? "?"} (pid ${l.pid ?? "?"}) since ${l.timestamp ?? "?"}`;
  } catch {
    return key;
  }
}

/**
 * The prefix of every key pulumi's DIY backend writes in a bucket that is not a folder: the URL's
 * path (for postgres://, the database's name), as diy/backend.go opens it (blob.PrefixedBucket of
 * the path without its leading "/", ending in "/"). `postgres://u@h/pulumi` keeps its lock at
 * `pulumi/.pulumi/locks/…`.
 */
export function bucketPrefix(u: URL): string {
  const p = decodeURIComponent(u.pathname).replace(/^\/+/, "");
  return p === "" || p.endsWith("/") ? p : `${p}/`;
}

/** Whether a backend key (a path, after the bucket's prefix) is a lock file of this stack: `.pulumi/locks/<org>/<project>/<stack>/<id>.json`, or the legacy `.pulumi/locks/<stack>/<id>.json`. */
export function isLockOf(key: string, project: string, stack: string): boolean {
  const parts = key.replace(/\\/g, "/").split("/");
  if (parts[0] !== ".pulumi" || parts[1] !== "locks" || !parts[parts.length - 1].endsWith(".json")) return false;
  const dirs = parts.slice(2, -1);
  return (dirs.length === 3 && dirs[1] === project && dirs[2] === stack) || (dirs.length === 1 && dirs[0] === stack);
}

function fileLocks(root: string, project: string, stack: string): LockRead {
  const dir = path.join(root, ".pulumi", "locks");
  const holders: string[] = [];
  const walk = (d: string): void => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (isLockOf(path.relative(root, p), project, stack)) holders.push(holder(p, fs.readFileSync(p, "utf8")));
    }
  };
  walk(dir);
  return { holders };
}

/** libpq's environment for a `postgres://` backend URL: the password never in an argument. */
function libpqEnvironment(u: URL): Record<string, string> {
  const env: Record<string, string> = {};
  if (u.hostname) env.PGHOST = decodeURIComponent(u.hostname);
  if (u.port) env.PGPORT = u.port;
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (db) env.PGDATABASE = db;
  const params: Record<string, string> = { sslmode: "PGSSLMODE", sslrootcert: "PGSSLROOTCERT", sslcert: "PGSSLCERT", sslkey: "PGSSLKEY", connect_timeout: "PGCONNECT_TIMEOUT", host: "PGHOST", port: "PGPORT", user: "PGUSER", dbname: "PGDATABASE" };
  for (const [k, v] of u.searchParams) if (params[k]) env[params[k]] = v;
  return env;
}

function postgresLocks(u: URL, project: string, stack: string): LockRead {
  const table = u.searchParams.get("table") ?? "pulumi_state";
  const prefix = bucketPrefix(u);
  // A row is a blob: its key, and its data as {"data": base64 of the file} (diy/postgres/bucket.go).
  // Values travel as psql variables (quoted by psql: :"table" as an identifier, :'prefix' as a literal).
  const r = spawnSync("psql", ["-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-v", `table=${table}`, "-v", `prefix=${prefix}.pulumi/locks/`], {
    input: `SELECT key, data->>'data' FROM :"table" WHERE starts_with(key, :'prefix');\n`,
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, ...libpqEnvironment(u) },
  });
  if (r.error || r.status !== 0) return { holders: [], unreadable: r.error ? "psql is not on PATH" : `psql: ${(r.stderr ?? "").trim().split("\n").pop() ?? `exit ${r.status}`}` };
  return { holders: postgresLockHolders(r.stdout, prefix, project, stack) };
}

/** psql's rows (the key, a tab, the base64 of the lock file) → who holds this stack's lock. */
export function postgresLockHolders(rows: string, prefix: string, project: string, stack: string): string[] {
  return rows
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\t"))
    .map(([key, data]) => [key.slice(prefix.length), data ?? ""])
    .filter(([key]) => isLockOf(key, project, stack))
    .map(([key, data]) => holder(key, Buffer.from(data, "base64").toString("utf8")));
}

/** Who holds this stack's lock in the backend at `url` (PULUMI_BACKEND_URL or `pulumi whoami`). */
export function readLock(url: string, project: string, stack: string, cloudInProgress: () => boolean | undefined): LockRead {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { holders: [], unreadable: "the backend URL does not parse" };
  }
  if (u.protocol === "file:") return fileLocks(fileURLToPath(new URL(`file://${u.host}${u.pathname}`)), project, stack);
  if (u.protocol === "postgres:" || u.protocol === "postgresql:") return postgresLocks(u, project, stack);
  if (u.protocol === "https:" || u.protocol === "http:") {
    const busy = cloudInProgress();
    return busy === undefined ? { holders: [], unreadable: "pulumi stack ls did not say" } : { holders: busy ? ["an update in progress (Pulumi Cloud)"] : [] };
  }
  return { holders: [], unreadable: `pulumi 3.260 reports no lock of a ${u.protocol}// backend without writing one` };
}

/** The project's name, from Pulumi.yaml in `cwd`. */
export function projectName(cwd: string | undefined): string | undefined {
  for (const f of ["Pulumi.yaml", "Pulumi.yml"]) {
    const p = path.join(cwd ?? process.cwd(), f);
    if (fs.existsSync(p)) return /^name:\s*["']?([^"'\s#]+)/m.exec(fs.readFileSync(p, "utf8"))?.[1];
  }
  return undefined;
}
