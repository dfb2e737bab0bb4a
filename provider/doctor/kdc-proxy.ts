// Doctor check 4, from outside the network: when `kdcProxyUrl` is set, every ticket comes through
// that KDC proxy (MS-KKDCP; Windows' KDC Proxy Server service, KPSSVC) and never from a KDC
// directly. Before any password-derived message is sent, this probe walks the path a client
// outside takes and names the first thing that breaks (a client, MIT's or Windows', says only that
// no KDC could be reached, whatever it is):
// the proxy's address (unreachable), its certificate (expired, not naming the host, not trusted),
// the time it takes (timeout), what it says for our realm (refused, or no KDC behind it), and
// finally that a KDC answered through it (an AS-REQ without pre-authentication, which any KDC
// answers at once with PREAUTH_REQUIRED: no password is sent).
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { checkServerIdentity, connect, PeerCertificate } from "node:tls";
import { buildProbeAsReq, classifyKdcAnswer, decodeKdcProxyMessage, encodeKdcProxyMessage } from "../kerberos/kkdcp";
import { DEFAULT_KDC_PROXY_TIMEOUT_MS, postKdcProxy } from "../kerberos/kdc-transport";
import { NAME_TYPE, Principal } from "../kerberos/principal";
import { CONFIG_NAMESPACE, projectPath } from "../settings";
import { message, Report, serverText } from "./report";
import type { DoctorCode } from "./codes";

export interface KdcProxyOptions {
  /** https://host[:port]/KdcProxy */
  url: string;
  /** PEM of the CA the proxy's certificate must chain to; default: Node's trust store. */
  caFile?: string;
  /** The whole probe (connect, TLS, the proxy's round trip to the KDC); default 30 000 ms. */
  timeoutMs?: number;
}

/** A parsed `kdcProxyUrl`, or why it is not one (refused before anything is sent). */
export function parseKdcProxyUrl(text: string): URL | { invalid: string } {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return { invalid: `"${text}" is not a URL` };
  }
  if (u.protocol !== "https:") return { invalid: `"${text}" is not an https:// URL (MS-KKDCP runs over HTTPS only)` };
  if (u.username || u.password || u.search || u.hash) return { invalid: `"${text}" carries a user, query or fragment` };
  return u;
}

export type Outcome = { ok: true; detail: string } | { ok: false; code: DoctorCode; cause: string; fix: string };

class Timeout extends Error {}

function tlsFacts(host: string, port: number, servername: string | undefined, ca: Buffer | undefined, signal: AbortSignal): Promise<{ cert: PeerCertificate; authorizationError?: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, servername, ca, rejectUnauthorized: false });
    const abort = (): void => {
      s.destroy();
      reject(new Timeout());
    };
    signal.addEventListener("abort", abort, { once: true });
    s.once("secureConnect", () => {
      signal.removeEventListener("abort", abort);
      const cert = s.getPeerCertificate();
      const err = s.authorizationError;
      s.destroy();
      resolve({ cert, authorizationError: err ? String((err as unknown as { code?: string }).code ?? err) : undefined });
    });
    s.once("error", (e) => {
      signal.removeEventListener("abort", abort);
      reject(e);
    });
  });
}

/** The path of a URL, for a finding ("/kdcproxy"); the text itself when it is no URL. */
function pathOf(where: string): string {
  try {
    return new URL(where).pathname || "/";
  } catch {
    return where;
  }
}

/** What the proxy's HTTP answer to the probe says (pure: the unit tests feed it answers). The
 * 503 wording that tells a refused realm from a KDC out of reach ("Can't find remote" against
 * "Remote unavailable") is FreeIPA kdcproxy's; any other proxy's 503 counts as no KDC behind it. */
export function judgeProxyAnswer(where: string, realm: string, answer: { status: number; type: string; body: Buffer }, certNames?: string): Outcome {
  const text = serverText(answer.body.toString("utf8"));
  if (answer.status === 503 && /can't find remote/i.test(text)) {
    return {
      ok: false,
      code: "KDC_PROXY_REALM_REFUSED",
      cause: `${where} does not serve the realm ${realm} (HTTP 503: "${text}")`,
      fix: `configure the proxy for ${realm} (kdcproxy: a [${realm}] section; KPSSVC serves the domains of its own forest and their trusts)`,
    };
  }
  if (answer.status === 503) {
    return {
      ok: false,
      code: "KDC_PROXY_KDC_UNREACHABLE",
      cause: `${where} took the request for ${realm} but reached no KDC behind it (HTTP 503: "${text}")`,
      fix: `let the proxy server reach a domain controller of ${realm} on TCP 88 (firewall, DNS SRV records _kerberos._tcp.${realm.toLowerCase()}), or fix the proxy's KDC list`,
    };
  }
  if (answer.status === 403 || answer.status === 404) {
    // Nothing is published at that path: a web server there refuses it (403: a folder it will not
    // list; 404: no such resource). Windows publishes KPSSVC at /KdcProxy; HTTP.sys compares a
    // reserved URL's path case-insensitively (Microsoft Learn, "UrlPrefix Strings": the relativeURI
    // part is case-insensitive), other proxies (kdcproxy under Apache) may not.
    const path = pathOf(where);
    return {
      ok: false,
      code: "KDC_PROXY_NOT_FOUND",
      cause: `${where} answered HTTP ${answer.status} to a KDC proxy request: no KDC proxy is published at the path ${path}${text ? ` ("${text}")` : ""}`,
      fix: `use the path Windows publishes the KDC Proxy Server at, /KdcProxy (https://<name>/KdcProxy; HTTP.sys matches it in any case, a proxy on another web server may not), in ${CONFIG_NAMESPACE}:kdcProxyUrl or --kdc-proxy`,
    };
  }
  if (answer.status !== 200) {
    return {
      ok: false,
      code: "KDC_PROXY_ERROR",
      cause: `${where} answered HTTP ${answer.status}${text ? ` ("${text}")` : ""} to a KDC proxy request`,
      fix: "check the proxy server's logs for this request",
    };
  }
  let kdc;
  try {
    kdc = classifyKdcAnswer(decodeKdcProxyMessage(answer.body).kdcMessage);
  } catch (e) {
    return { ok: false, code: "KDC_PROXY_ERROR", cause: `${where} answered HTTP 200 (${answer.type || "no Content-Type"}) with no KDC answer in it: ${message(e)}`, fix: `check that ${where} is a KDC proxy (MS-KKDCP), not another web application` };
  }
  if (kdc.kind === "krb-error" && kdc.code === 68) {
    return { ok: false, code: "KDC_PROXY_REALM_REFUSED", cause: `the KDC behind ${where} is not a KDC of ${realm} (${kdc.name}${kdc.realm ? `, realm ${kdc.realm}` : ""})`, fix: `point the proxy's KDC list for ${realm} at that realm's domain controllers` };
  }
  return { ok: true, detail: `${where} relays MS-KKDCP to a KDC of ${realm} (it answered ${kdc.kind === "as-rep" ? "an AS-REP" : kdc.name}), certificate ${certNames ?? ""} trusted` };
}

/** Walks the proxy path once; the first thing that breaks, with its cause and fix. */
export async function probeKdcProxy(p: KdcProxyOptions, realm: string, user: Principal): Promise<Outcome> {
  const parsed = parseKdcProxyUrl(p.url);
  if ("invalid" in parsed) return { ok: false, code: "KDC_PROXY_URL_INVALID", cause: parsed.invalid, fix: `set ${CONFIG_NAMESPACE}:kdcProxyUrl (or --kdc-proxy) to https://<name>/KdcProxy` };
  const u = parsed;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = u.port ? Number(u.port) : 443;
  const where = `${u.origin}${u.pathname}`;
  let ca: Buffer | undefined;
  try {
    const file = projectPath(p.caFile);
    ca = file ? readFileSync(file) : undefined;
  } catch (e) {
    return { ok: false, code: "KDC_PROXY_CA_FILE_UNREADABLE", cause: `cannot read ${CONFIG_NAMESPACE}:kdcProxyCaFile: ${message(e)}`, fix: `point ${CONFIG_NAMESPACE}:kdcProxyCaFile (--kdc-proxy-ca-file) at the PEM of the CA that issued the proxy's certificate` };
  }
  const timeoutMs = p.timeoutMs ?? DEFAULT_KDC_PROXY_TIMEOUT_MS;
  const timeout: Outcome = {
    ok: false,
    code: "KDC_PROXY_TIMEOUT",
    cause: `${where} did not answer within ${timeoutMs / 1000} s (the proxy, or the KDC it forwards to, is too slow or hangs)`,
    fix: "check the proxy server's load and its path to a domain controller (KPSSVC: the KDC Proxy Server service's event log); clients give up the same way",
  };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    // 1. TCP and TLS, judged like check 8 judges the namespace's certificate.
    let tls;
    try {
      tls = await tlsFacts(host, port, isIP(host) ? undefined : host, ca, controller.signal);
    } catch (e) {
      if (e instanceof Timeout) return timeout;
      return { ok: false, code: "KDC_PROXY_UNREACHABLE", cause: `${where} does not answer TLS at ${host}:${port}: ${message(e)}`, fix: `publish the KDC proxy there (Windows: the KDC Proxy Server service, KPSSVC, with its URL reservation https://+:443/KdcProxy) and open TCP ${port} to it from outside` };
    }
    const now = Date.now();
    if (tls.authorizationError === "CERT_HAS_EXPIRED" || Date.parse(tls.cert.valid_to) < now) {
      return { ok: false, code: "KDC_PROXY_CERT_EXPIRED", cause: `the certificate of ${where} expired on ${tls.cert.valid_to}: clients refuse the proxy`, fix: `renew it and bind the new one to 0.0.0.0:${port} (netsh http add sslcert)` };
    }
    const mismatch = checkServerIdentity(host, tls.cert);
    if (mismatch) {
      return {
        ok: false,
        code: "KDC_PROXY_CERT_NAME_MISMATCH",
        cause: `the certificate of ${where} does not name ${host} (${tls.cert.subjectaltname ?? `subject CN ${tls.cert.subject?.CN ?? "?"}`}): clients refuse the proxy`,
        fix: `issue the proxy a certificate whose subjectAltName holds ${host} (the name clients are given in "Specify KDC proxy servers for Kerberos clients"), and bind it to port ${port}`,
      };
    }
    if (tls.authorizationError) {
      return {
        ok: false,
        code: "KDC_PROXY_CERT_UNTRUSTED",
        cause: `the certificate of ${where} (issuer ${tls.cert.issuer?.CN ?? "?"}) is not trusted here: ${tls.authorizationError}`,
        fix: `issue it from a CA the clients trust (Windows clients also check revocation), or give the doctor that CA with ${CONFIG_NAMESPACE}:kdcProxyCaFile`,
      };
    }
    // 2. One KKDCP round trip to a KDC of the realm.
    const probe = buildProbeAsReq({ name: user.components[0], enterprise: user.nameType === NAME_TYPE.ENTERPRISE }, realm);
    let answer;
    try {
      answer = await postKdcProxy(u, ca, encodeKdcProxyMessage(probe, realm), controller.signal);
    } catch (e) {
      if (e instanceof Timeout || controller.signal.aborted) return timeout;
      return { ok: false, code: "KDC_PROXY_UNREACHABLE", cause: `${where} dropped the request: ${message(e)}`, fix: "check the proxy server's web service (HTTP.sys / KPSSVC) and its logs" };
    }
    return judgeProxyAnswer(where, realm, answer, tls.cert.subjectaltname);
  } finally {
    clearTimeout(timer);
  }
}

/** Check 4's prelude when `kdcProxyUrl` is set: one finding; true when tickets may be asked for. */
export async function checkKdcProxy(p: KdcProxyOptions, realm: string, user: Principal, r: Report): Promise<boolean> {
  const o = await probeKdcProxy(p, realm, user);
  if (o.ok) r.pass("kdcProxy", p.url, o.detail);
  else r.add("kdcProxy", p.url, "fail", o.code, o.cause, o.fix);
  return o.ok;
}
