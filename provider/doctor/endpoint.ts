// Doctor check 8: the namespace's HTTPS endpoint, end to end, at every address the namespace
// resolves to — what Outlook itself meets. Per address: the TLS certificate is trusted, valid now
// and names the host; then per Outlook path, the endpoint offers Negotiate, accepts a Kerberos
// token built here from the doctor's own service ticket (HTTP 200), and answers with an AP-REP
// that decrypts with the ticket's session key (mutual authentication: the server holds the key).
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { checkServerIdentity, connect, PeerCertificate } from "node:tls";
import type { DoctorOptions } from "./options";
import { EncryptionKey } from "../kerberos/crypto";
import { etypeName, isAesSha1 } from "../kerberos/etype";
import { Principal } from "../kerberos/principal";
import { buildApReq, negotiateToken, verifyMutual } from "../kerberos/spnego";
import { CONFIG_NAMESPACE, projectPath } from "../settings";
import { message, Report } from "./report";
import type { DoctorCode } from "./codes";

/** The paths Outlook uses on the namespace (MAPI over HTTP, Outlook Anywhere, EWS, OAB, Autodiscover). */
export const OUTLOOK_PATHS = ["/mapi/", "/rpc/rpcproxy.dll", "/EWS/Exchange.asmx", "/OAB/", "/Autodiscover/Autodiscover.xml"];
const PORT = 443;
const TIMEOUT_MS = 8000;

export interface EndpointTicket {
  spn: string;
  ticket: Buffer;
  kvno?: number;
  session: { key: EncryptionKey; client: Principal };
  /** The KDC's clock minus this machine's (check 4): the authenticator is taken on the KDC's clock. */
  clockOffsetMs?: number;
}

export interface EndpointContext {
  /** The addresses check 1 found for the namespace. */
  addresses: string[];
  /** The namespace's service ticket with its session key, or why there is none. */
  ticket: EndpointTicket | { unavailable: string };
  /** Check 5 proved the stack's password is AD's: a refused token then means the server's key is stale. */
  stackPasswordMatchesAd?: boolean;
}

interface TlsFacts {
  cert: PeerCertificate;
  authorizationError?: string;
}

function caOf(o: DoctorOptions): Buffer | undefined {
  const file = projectPath(o.httpsCaFile);
  return file ? readFileSync(file) : undefined;
}

function tlsProbe(addr: string, host: string, ca: Buffer | undefined): Promise<TlsFacts> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: addr, port: PORT, servername: host, ca, rejectUnauthorized: false, timeout: TIMEOUT_MS });
    s.once("secureConnect", () => {
      const cert = s.getPeerCertificate();
      const err = s.authorizationError;
      s.destroy();
      resolve({ cert, authorizationError: err ? String((err as unknown as { code?: string }).code ?? err) : undefined });
    });
    s.once("timeout", () => {
      s.destroy();
      reject(new Error(`no TLS answer within ${TIMEOUT_MS / 1000} s`));
    });
    s.once("error", reject);
  });
}

interface HttpAnswer {
  status: number;
  negotiate: string[];
  schemes: string[];
}

function get(addr: string, host: string, path: string, ca: Buffer | undefined, authorization?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: addr,
        port: PORT,
        path,
        method: "GET",
        servername: host,
        ca,
        agent: false,
        timeout: TIMEOUT_MS,
        checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
        headers: { Host: host, "User-Agent": "pulumi-exchange-kerberos doctor", ...(authorization ? { Authorization: authorization } : {}) },
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          const raw = res.headers["www-authenticate"];
          const values = (Array.isArray(raw) ? raw : raw ? [raw] : []).flatMap((v) => v.split(/,\s*(?=[A-Za-z-]+(?:\s|$))/));
          resolve({
            status: res.statusCode ?? 0,
            schemes: values.map((v) => v.trim().split(/\s+/)[0]).filter(Boolean),
            negotiate: values.map((v) => v.trim()).filter((v) => /^negotiate(\s|$)/i.test(v)).map((v) => v.slice("negotiate".length).trim()),
          });
        });
      },
    );
    req.once("timeout", () => req.destroy(new Error(`no HTTP answer within ${TIMEOUT_MS / 1000} s`)));
    req.once("error", reject);
    req.end();
  });
}

function sanOf(cert: PeerCertificate): string {
  return cert.subjectaltname ?? `no subjectAltName (subject CN ${cert.subject?.CN ?? "?"})`;
}

/** Judges the certificate: one failure line, or undefined when it is good. */
function judgeTls(host: string, addr: string, t: TlsFacts): { code: DoctorCode; cause: string; fix: string } | undefined {
  const now = Date.now();
  const from = Date.parse(t.cert.valid_from);
  const to = Date.parse(t.cert.valid_to);
  const where = `https://${host}/ at ${addr}`;
  if (t.authorizationError === "CERT_HAS_EXPIRED" || (!Number.isNaN(to) && to < now)) {
    return { code: "CERT_EXPIRED", cause: `the certificate of ${where} expired on ${t.cert.valid_to}: Outlook refuses the connection before any authentication`, fix: `renew it (Exchange: New-ExchangeCertificate, then Enable-ExchangeCertificate -Services IIS) for ${host}` };
  }
  if (t.authorizationError === "CERT_NOT_YET_VALID" || (!Number.isNaN(from) && from > now)) {
    return { code: "CERT_NOT_YET_VALID", cause: `the certificate of ${where} is valid only from ${t.cert.valid_from}`, fix: "check the clocks of this machine and of the CA, or issue it again" };
  }
  const mismatch = checkServerIdentity(host, t.cert);
  if (mismatch) {
    return { code: "CERT_NAME_MISMATCH", cause: `the certificate of ${where} does not name ${host} (${sanOf(t.cert)}): Outlook refuses it`, fix: `issue a certificate whose subjectAltName holds ${host} and the extra names, and bind it to IIS on every server` };
  }
  if (t.authorizationError) {
    return { code: "CERT_UNTRUSTED", cause: `the certificate of ${where} (issuer ${t.cert.issuer?.CN ?? "?"}) is not trusted here: ${t.authorizationError}`, fix: `issue it from a CA the clients trust, or give the doctor that CA with ${CONFIG_NAMESPACE}:httpsCaFile` };
  }
  return undefined;
}

export async function checkEndpoints(o: DoctorOptions, ctx: EndpointContext, r: Report): Promise<void> {
  const host = o.namespace.toLowerCase();
  if (ctx.addresses.length === 0) {
    r.add("endpoint", `https://${host}/`, "skip", "NOT_CHECKED", `${host} does not resolve (check 1), so there is no endpoint to ask`, "fix check 1 first");
    return;
  }
  let ca: Buffer | undefined;
  try {
    ca = caOf(o);
  } catch (e) {
    r.add("endpoint", `https://${host}/`, "fail", "CA_FILE_UNREADABLE", `cannot read ${CONFIG_NAMESPACE}:httpsCaFile: ${message(e)}`, `point ${CONFIG_NAMESPACE}:httpsCaFile at the PEM of the CA that issued the Exchange certificate`);
    return;
  }
  for (const addr of ctx.addresses) {
    const subject = `https://${host}/ at ${addr}`;
    let tls: TlsFacts;
    try {
      tls = await tlsProbe(addr, host, ca);
    } catch (e) {
      r.add("endpoint", subject, "fail", "ENDPOINT_UNREACHABLE", `${addr}:${PORT}, an address of ${host}, does not answer TLS: ${message(e)}`, `start the web server there, or remove ${addr} from ${host}'s DNS record`);
      continue;
    }
    const bad = judgeTls(host, addr, tls);
    if (bad) {
      r.add("endpoint", subject, "fail", bad.code, bad.cause, bad.fix);
      continue;
    }
    // Per path, failures are gathered and reported once per code for the address: one line each.
    const failed = new Map<DoctorCode, { paths: string[]; cause: string; fix: string }>();
    const fail = (path: string, code: DoctorCode, cause: string, fix: string): void => {
      const f = failed.get(code);
      if (f) f.paths.push(path);
      else failed.set(code, { paths: [path], cause, fix });
    };
    let accepted = 0;
    for (const path of OUTLOOK_PATHS) {
      const url = `https://${host}${path} at ${addr}`;
      let first: HttpAnswer;
      try {
        first = await get(addr, host, path, ca);
      } catch (e) {
        fail(path, "ENDPOINT_UNREACHABLE", `${url}: ${message(e)}`, `check the web server at ${addr}`);
        continue;
      }
      if (first.status !== 401 || !first.schemes.some((s) => s.toLowerCase() === "negotiate")) {
        fail(
          path,
          "NEGOTIATE_NOT_OFFERED",
          `${url} answered ${first.status} without asking for Negotiate (offers: ${first.schemes.join(", ") || "nothing"}): Outlook cannot use Kerberos there`,
          `enable Negotiate (Windows Authentication with the Negotiate provider) on the virtual directory (pulumi up with OutlookAnywhereAuth), or on the reverse proxy`,
        );
        continue;
      }
      if ("unavailable" in ctx.ticket) continue;
      const t = ctx.ticket;
      if (!isAesSha1(t.session.key.etype)) continue;
      const { apReq, context } = buildApReq(t.ticket, t.session.key, t.session.client, new Date(Date.now() + (t.clockOffsetMs ?? 0)));
      let answer: HttpAnswer;
      try {
        answer = await get(addr, host, path, ca, `Negotiate ${negotiateToken(apReq).toString("base64")}`);
      } catch (e) {
        fail(path, "ENDPOINT_UNREACHABLE", `${url}: ${message(e)}`, `check the web server at ${addr}`);
        continue;
      }
      if (answer.status !== 200) {
        const stale = ctx.stackPasswordMatchesAd === true;
        fail(
          path,
          "TOKEN_REJECTED",
          `${url} answered ${answer.status} to a fresh ${etypeName(t.session.key.etype)} Kerberos ticket for ${t.spn} (key version ${t.kvno ?? "?"})${stale ? ", which decrypts with AD's current ASA key (check 5): the server there does not hold that key (a credential or keytab from before the last password set: \"Key version is not available\" / KRB_AP_ERR_MODIFIED)" : ""}; Outlook falls back to NTLM`,
          stale
            ? `bind the current ASA password on the server behind ${addr} (pulumi up; RollAlternateServiceAccountPassword.ps1), or for a Linux front end write its keytab again: npx pulumi-exchange-kerberos keytab -o FILE`
            : `make the server behind ${addr} hold the ASA's current password (see checks 5 and 6)`,
        );
        continue;
      }
      const token = answer.negotiate.find((v) => v !== "");
      if (!token) {
        fail(path, "MUTUAL_AUTH_MISSING", `${url} accepted the ticket but sent no AP-REP (no Negotiate token with the 200): the client cannot tell that the server holds the key`, `let the server answer mutual authentication (IIS and mod_auth_gssapi do; a proxy may strip WWW-Authenticate from a 200)`);
        continue;
      }
      const m = verifyMutual(Buffer.from(token, "base64"), context);
      if (!m.ok) {
        fail(path, "MUTUAL_AUTH_FAILED", `${url} accepted the ticket, but its answer does not verify: ${m.reason}`, `check what sits in front of the server at ${addr}; it must pass Kerberos through unchanged`);
        continue;
      }
      accepted++;
    }
    for (const [code, f] of failed) {
      const more = f.paths.length > 1 ? ` (the same on ${f.paths.slice(1).join(" ")})` : "";
      r.add("endpoint", `https://${host}${f.paths[0]} at ${addr}`, "fail", code, `${f.cause}${more}`, f.fix);
    }
    if (failed.size > 0) continue;
    const cert = `certificate trusted, valid until ${tls.cert.valid_to}, names ${host} (${sanOf(tls.cert)})`;
    if ("unavailable" in ctx.ticket) {
      r.add("endpoint", subject, "skip", "NO_TICKET", `${cert}; Negotiate offered on ${OUTLOOK_PATHS.join(" ")}; no Kerberos token could be sent: ${ctx.ticket.unavailable}`, "make check 4 pass first");
    } else if (!isAesSha1(ctx.ticket.session.key.etype)) {
      r.add("endpoint", subject, "skip", "RC4_SESSION_KEY", `${cert}; Negotiate offered; the session key is ${etypeName(ctx.ticket.session.key.etype)}, which this check does not implement`, "enable AES on the ASA (check 3)");
    } else {
      r.pass("endpoint", subject, `${cert}; Negotiate offered, and a fresh ${etypeName(ctx.ticket.session.key.etype)} Kerberos ticket accepted with mutual authentication (AP-REP verified) on ${accepted} paths: ${OUTLOOK_PATHS.join(" ")}`);
    }
  }
}
