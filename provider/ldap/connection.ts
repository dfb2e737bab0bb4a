// The one place that opens LDAP connections. One ldapts Client per directory (URL + bind identity)
// per process, shared by every resource and every call: ldapts multiplexes concurrent operations
// over one socket by message id, so Pulumi's parallel steps need no queue. A dropped connection
// is reopened — with TLS and the bind — on the next operation.
//
// ldapts would transparently reconnect a dropped socket on its own, unauthenticated and (after
// StartTLS) unencrypted. We never let it: each Client gets a one-shot socket factory, so a hidden
// reconnect fails before anything is sent, and we build a fresh, verified, bound Client instead.
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { createHash } from "node:crypto";
import * as ldapts from "ldapts";
import { AndFilter, Attribute, Change, Client, Control, Entry, EqualityFilter, Filter, FilterParser, NotFilter, OrFilter } from "ldapts";
import { InvalidInputError } from "../errors";
import { CONFIG_NAMESPACE, LdapOverride, LdapSettings, ldapSettings } from "../settings";
import { isConnectionError, mapLdapError, noTlsCertificate } from "./errors";
import { registerSecret } from "../secrets";

export interface LdapStats {
  /** TCP (or TLS) connections opened to any directory since the process started. */
  connectionsOpened: number;
  /** The same, per server URL (a domain controller and its Global Catalog are two). */
  connectionsByUrl: Record<string, number>;
  /** Connections opened again after one dropped. */
  reconnects: number;
  /** LDAP operations requested (binds excluded), and per kind. */
  operations: number;
  byOperation: Record<string, number>;
  /** Connections currently pooled. */
  pooled: number;
}

const stats = { connectionsOpened: 0, connectionsByUrl: {} as Record<string, number>, reconnects: 0, operations: 0, byOperation: {} as Record<string, number> };
const pool = new Map<string, LdapConnection>();

/** A snapshot of the process-wide counters (for the benchmark and the tests). */
export function ldapStats(): LdapStats {
  return { ...stats, connectionsByUrl: { ...stats.connectionsByUrl }, byOperation: { ...stats.byOperation }, pooled: pool.size };
}

/**
 * ldapts unescapes a filter string's `\XX` pairs into one UTF-16 character per byte and then
 * writes the value as UTF-8, which doubles every byte >= 0x80: a binary SID or an escaped é would
 * never match. Filters built with escapeFilterValue are plain ASCII, so after ldapts' parse every
 * character of a value is exactly one byte: equality values go out as those bytes (ldapts writes a
 * Buffer as is), other values as the UTF-8 text those bytes spell.
 */
function searchFilter(text: string): Filter {
  const fix = (f: Filter): Filter => {
    if (f instanceof AndFilter || f instanceof OrFilter) f.filters = f.filters.map(fix);
    else if (f instanceof NotFilter) f.filter = fix(f.filter);
    else if ("value" in f && typeof f.value === "string" && /^[\0-\xff]*$/.test(f.value) && /[\x80-\xff]/.test(f.value)) {
      const bytes = Buffer.from(f.value, "latin1");
      (f as { value: string | Buffer }).value = f instanceof EqualityFilter ? bytes : bytes.toString("utf8");
    }
    return f;
  };
  return fix(FilterParser.parseString(text));
}

/** Raised into ldapts when it tries to reopen a socket behind our back. */
class DroppedConnection extends Error {
  constructor() {
    super("dropped connection: not reopened without TLS and bind");
  }
}

export type Scope = "base" | "one" | "sub";

export interface SearchArgs {
  scope?: Scope;
  filter?: string;
  attributes?: string[];
  /** Attributes to return as Buffers (dnsRecord, objectSid, objectGUID). */
  binary?: string[];
  sizeLimit?: number;
  paged?: boolean;
  /**
   * LDAP_SERVER_SD_FLAGS_OID with these SECURITY_INFORMATION bits (4: the DACL): without it AD
   * returns nTSecurityDescriptor only to a reader who may also read its SACL ([MS-ADTS] §3.1.1.3.4.1.11).
   */
  sdFlags?: number;
}

/** [MS-ADTS] §3.1.1.3.4.1.11: the control's value is the BER SEQUENCE { INTEGER flags }. */
class SdFlagsControl extends Control {
  constructor(private readonly flags: number) {
    super("1.2.840.113556.1.4.801", { critical: true });
  }
  protected override writeControl(writer: Parameters<Control["writeControl"]>[0]): void {
    writer.writeBuffer(Buffer.from([0x30, 0x03, 0x02, 0x01, this.flags & 0x7f]), 0x04);
  }
}

export type Modification = { operation: "add" | "delete" | "replace"; type: string; values: (string | Buffer)[] };

/** Where a connection goes when its URL is found only at its first open (the Global Catalog). */
export interface LocatedServer {
  url: string;
  /** The address to connect to, when the URL's host name is not resolvable here (a name served
   * only by the domain's DNS); the certificate is still checked against the URL's host name. */
  address?: string;
}

/** One directory: a URL and a bind identity. */
export class LdapConnection {
  /** The server's URL; for a located one (the Global Catalog), final after the first open. */
  url: string;
  readonly settings: LdapSettings;
  /** Per-connection cache for facts that do not change during a run (RootDSE, NetBIOS name). */
  readonly cache = new Map<string, Promise<unknown>>();
  private client?: Client;
  private sockets: net.Socket[] = [];
  private connecting?: Promise<Client>;
  private inflight = 0;
  private everOpened = false;

  private address?: string;

  constructor(settings: LdapSettings, url: string, private locate?: () => Promise<LocatedServer>) {
    this.settings = settings;
    this.url = url;
    registerSecret(settings.bindPassword);
  }

  /** LDAPS, or StartTLS on ldap://: the only connections a password may cross. */
  get encrypted(): boolean {
    return this.url.toLowerCase().startsWith("ldaps://") || this.settings.startTls;
  }

  async search(base: string, args: SearchArgs = {}): Promise<Entry[]> {
    return this.run("search", base || "the RootDSE", true, async (c) => {
      const r = await c.search(base, {
        scope: args.scope ?? "sub",
        filter: searchFilter(args.filter ?? "(objectClass=*)"),
        attributes: args.attributes,
        explicitBufferAttributes: args.binary,
        sizeLimit: args.sizeLimit,
        paged: args.paged ? { pageSize: 500 } : undefined,
      }, args.sdFlags !== undefined ? new SdFlagsControl(args.sdFlags) : undefined);
      return r.searchEntries;
    });
  }

  async add(dn: string, attributes: Record<string, (string | Buffer)[]>, secret = false): Promise<void> {
    if (secret) this.requireEncryption("add", dn);
    const attrs = Object.entries(attributes).map(([type, values]) => new Attribute({ type, values: values as string[] | Buffer[] }));
    await this.run("add", dn, false, (c) => c.add(dn, attrs));
  }

  /** `secret`: the changes carry a password, which must not cross an unencrypted connection. */
  async modify(dn: string, changes: Modification[], secret = false): Promise<void> {
    if (secret) this.requireEncryption("modify", dn);
    const ch = changes.map((m) => new Change({ operation: m.operation, modification: new Attribute({ type: m.type, values: m.values as string[] | Buffer[] }) }));
    await this.run("modify", dn, false, (c) => c.modify(dn, ch));
  }

  async del(dn: string): Promise<void> {
    await this.run("delete", dn, false, (c) => c.del(dn));
  }

  /** Renames or moves; `newDn` is the complete new DN. */
  async move(dn: string, newDn: string): Promise<void> {
    await this.run("move", dn, false, (c) => c.modifyDN(dn, newDn));
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.cache.clear();
    if (c) await c.unbind().catch(() => undefined);
  }

  /** Test hook: cuts the socket under the client, as a DC restart or an idle timeout would. */
  dropForTest(): void {
    for (const s of this.sockets) s.destroy();
  }

  private requireEncryption(op: string, dn: string): void {
    if (!this.encrypted) {
      throw new InvalidInputError(`${CONFIG_NAMESPACE}:ldapUrl`, `refusing to ${op} a password on ${dn} over the unencrypted connection ${this.url}`, "use an ldaps:// URL or StartTLS; AD only accepts passwords over an encrypted connection anyway", { code: "PLAIN_TEXT_LDAP" });
    }
  }

  private async run<T>(op: string, object: string, idempotent: boolean, fn: (c: Client) => Promise<T>): Promise<T> {
    stats.operations++;
    stats.byOperation[op] = (stats.byOperation[op] ?? 0) + 1;
    this.inflight++;
    this.setRef(true);
    try {
      for (let attempt = 0; ; attempt++) {
        const c = await this.ready();
        try {
          return await fn(c);
        } catch (e) {
          if (!isConnectionError(e) && !(e instanceof DroppedConnection)) {
            throw mapLdapError(e, { op, object, url: this.url, bindUser: this.settings.bindUser });
          }
          if (this.client === c) this.client = undefined;
          // Retry once on a fresh connection when the request cannot have reached the server
          // (DroppedConnection) or repeating it is harmless (a search).
          if (attempt > 0 || !(idempotent || e instanceof DroppedConnection)) {
            throw mapLdapError(e, { op, object, url: this.url, bindUser: this.settings.bindUser });
          }
        }
      }
    } finally {
      this.inflight--;
      if (this.inflight === 0) this.setRef(false);
    }
  }

  private ready(): Promise<Client> {
    if (this.client?.isBound) return Promise.resolve(this.client);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** While operations are in flight the socket keeps the process alive; when idle it does not. */
  private setRef(on: boolean): void {
    for (const s of this.sockets) {
      if (on) s.ref();
      else s.unref();
    }
  }

  private async open(): Promise<Client> {
    const s = this.settings;
    if (this.locate) {
      const found = await this.locate();
      this.locate = undefined;
      this.url = found.url;
      this.address = found.address;
    }
    const parsed = new URL(this.url);
    const secure = parsed.protocol === "ldaps:";
    if (!secure && parsed.protocol !== "ldap:") {
      throw new InvalidInputError(`${CONFIG_NAMESPACE}:ldapUrl`, `${JSON.stringify(this.url)} is not an ldap:// or ldaps:// URL`, "use ldaps://dc1.corp.example (or ldap:// with StartTLS)", { code: "NOT_AN_LDAP_URL" });
    }
    if (!secure && !s.startTls && !s.allowPlainText) {
      throw new InvalidInputError(`${CONFIG_NAMESPACE}:ldapStartTls`, `a simple bind over ${this.url} without TLS would send the password in clear text`, `use ldaps://, or keep StartTLS on (${CONFIG_NAMESPACE}:ldapStartTls true); only a throwaway lab may set ${CONFIG_NAMESPACE}:ldapAllowPlainText true`, { code: "PLAIN_TEXT_LDAP" });
    }
    const host = parsed.hostname.replace(/^\[|\]$/g, "");
    const connectTo = this.address ?? host;
    let ca: Buffer | undefined;
    if (s.caFile) {
      try {
        ca = readFileSync(s.caFile);
      } catch (e) {
        throw new InvalidInputError(`${CONFIG_NAMESPACE}:ldapCaFile`, `cannot read ${s.caFile} (${(e as NodeJS.ErrnoException).code ?? e})`, "point it at the PEM file of the CA that issued the DC's certificate", { code: "LDAP_CA_FILE_UNREADABLE" });
      }
    }
    const tlsOptions: tls.ConnectionOptions = {
      ca,
      rejectUnauthorized: s.verifyCertificate,
      host,
      servername: net.isIP(host) ? undefined : host,
      minVersion: "TLSv1.2",
    };

    const sockets: net.Socket[] = [];
    let opened = false;
    // How far TLS got: a DC without an LDAPS certificate accepts the TCP connection and resets it
    // at the first TLS message (or refuses StartTLS), which is a different fix from a closed port.
    const progress: { handshake: "none" | "tcp" | "tls" } = { handshake: "none" };
    const watch = (sock: tls.TLSSocket, upgraded: boolean): tls.TLSSocket => {
      if (upgraded) progress.handshake = "tcp";
      else sock.once("connect", () => (progress.handshake = "tcp"));
      sock.once("secureConnect", () => (progress.handshake = "tls"));
      return sock;
    };
    const refuse = (): net.Socket => {
      const dead = new net.Socket();
      process.nextTick(() => dead.destroy(new DroppedConnection()));
      return dead;
    };
    const track = <S extends net.Socket>(sock: S): S => {
      sockets.push(sock);
      return sock;
    };
    const countOpen = (): void => {
      stats.connectionsOpened++;
      stats.connectionsByUrl[this.url] = (stats.connectionsByUrl[this.url] ?? 0) + 1;
      if (this.everOpened) stats.reconnects++;
      this.everOpened = true;
    };
    const createConnection = ((port: number, h: string) => {
      if (opened) return refuse();
      opened = true;
      countOpen();
      return track(net.connect(port, h === host ? connectTo : h));
    }) as unknown as typeof net.connect;
    const createSecureConnection = ((...args: unknown[]) => {
      if (typeof args[0] === "object" && args[0] !== null) {
        // The StartTLS upgrade of the socket we opened: not a new connection.
        return track(watch(tls.connect({ ...(args[0] as tls.ConnectionOptions) }), true));
      }
      if (opened) return refuse();
      opened = true;
      countOpen();
      // The certificate is checked against the URL's host (servername), whatever address is dialled.
      const to = args[1] === host ? connectTo : (args[1] as string);
      return track(watch(tls.connect(args[0] as number, to, { ...tlsOptions, host: to, servername: net.isIP(host) ? undefined : host }), false));
    }) as unknown as typeof tls.connect;

    const client = new Client({
      url: this.url,
      timeout: s.timeoutMs,
      connectTimeout: s.timeoutMs,
      // tlsOptions on an ldap:// URL would make ldapts speak TLS from the first byte: only for ldaps.
      tlsOptions: secure ? tlsOptions : undefined,
      createConnection,
      createSecureConnection,
    });
    const ctx = { url: this.url, bindUser: s.bindUser };
    try {
      if (!secure && s.startTls) {
        try {
          await client.startTLS({ ...tlsOptions });
        } catch (e) {
          // The DC refused the StartTLS request, or reset the upgrade.
          if (progress.handshake !== "tls" && (e instanceof ldapts.ResultCodeError || (progress.handshake === "tcp" && isConnectionError(e)))) throw noTlsCertificate(this.url, e);
          throw mapLdapError(e, { ...ctx, op: "StartTLS", object: this.url });
        }
      }
      try {
        await client.bind(s.bindUser, s.bindPassword);
      } catch (e) {
        if (secure && progress.handshake === "tcp" && isConnectionError(e)) throw noTlsCertificate(this.url, e);
        throw mapLdapError(e, { ...ctx, op: "bind", object: s.bindUser });
      }
    } catch (e) {
      for (const sock of sockets) sock.destroy();
      throw e;
    }
    if (this.client && this.client !== client) void this.client.unbind().catch(() => undefined);
    this.client = client;
    this.sockets = sockets;
    this.setRef(this.inflight > 0);
    return client;
  }
}

function poolKey(s: LdapSettings, url: string): string {
  const pw = createHash("sha256").update(s.bindPassword).digest("hex").slice(0, 16);
  return [url.toLowerCase(), s.bindUser.toLowerCase(), s.startTls, s.caFile ?? "", s.verifyCertificate, s.allowPlainText, pw].join("|");
}

function pooled(s: LdapSettings, url: string, locate?: () => Promise<LocatedServer>): LdapConnection {
  const k = poolKey(s, locate ? `gc-of:${url}` : url);
  let c = pool.get(k);
  if (!c) {
    c = new LdapConnection(s, url, locate);
    pool.set(k, c);
  }
  return c;
}

/** The domain controller the settings point at. */
export function directory(s: LdapSettings): LdapConnection {
  return pooled(s, s.url);
}

/** The domain controller for a resource: the stack's settings with the resource's override. */
export function directoryFor(override: LdapOverride | undefined): LdapConnection {
  return directory(ldapSettings(override ?? {}));
}

/** The Global Catalog URL: configured, or the DC's host on 3269 (LDAPS) / 3268 (StartTLS). */
export function globalCatalogUrl(s: LdapSettings): string {
  if (s.gcUrl) return s.gcUrl;
  const u = new URL(s.url);
  const secure = u.protocol === "ldaps:";
  return `${secure ? "ldaps" : "ldap"}://${u.host.replace(/:\d+$/, "")}:${secure ? 3269 : 3268}`;
}

/** The pooled connection to a server found only at its first open (global-catalog.ts), keyed by `url`, its first guess. */
export function locatedServer(s: LdapSettings, url: string, locate: () => Promise<LocatedServer>): LdapConnection {
  return pooled(s, url, locate);
}

/** Closes every pooled connection (tests, the CLI at exit). */
export async function closeLdapConnections(): Promise<void> {
  const all = [...pool.values()];
  pool.clear();
  await Promise.all(all.map((c) => c.close()));
}

/** Test hook: drops the sockets of every pooled connection without telling the client. */
export function dropLdapConnectionsForTest(): void {
  for (const c of pool.values()) c.dropForTest();
}

// ---- reading entries ----

function attr(e: Entry, name: string): Entry[string] | undefined {
  const k = Object.keys(e).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : e[k];
}

/** The first value of `name` as a string, or undefined. */
export function str(e: Entry, name: string): string | undefined {
  const v = attr(e, name);
  if (v === undefined) return undefined;
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return Buffer.isBuffer(first) ? first.toString("utf8") : String(first);
}

/** Every value of `name` as strings. */
export function strs(e: Entry, name: string): string[] {
  const v = attr(e, name);
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString("utf8") : String(x)));
}

/** Every value of `name` as Buffers (request it in SearchArgs.binary). */
export function bufs(e: Entry, name: string): Buffer[] {
  const v = attr(e, name);
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(String(x), "utf8")));
}

