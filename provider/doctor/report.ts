// The doctor's report: findings (one per check and subject, with a stable code, the cause and the
// fix on one line each), the verdict, and the text form. No password or key ever enters it.
import { causeOf, KerberosRolloutError } from "../errors";
import type { DoctorCode } from "./codes";
import type { PasswordAge } from "../asa-password-age";

/** `pending`: what the stack wrote is on the DC it writes to, and has not reached the server that
 * answered yet (replication, DNS polling: doctor/pending.ts); the finding says when to look again. */
export type CheckStatus = "pass" | "warn" | "fail" | "skip" | "pending";

/** The eight checks, in order. */
export type CheckId = "dns" | "spn" | "asa" | "kdcProxy" | "ticket" | "decrypt" | "binding" | "negotiate" | "endpoint";

export interface DoctorFinding {
  check: CheckId;
  /** What was checked: a name, an SPN, an account, a server. */
  subject: string;
  status: CheckStatus;
  /** Stable code for scripts and tests ("OK", "SPN_MISSING", "KRB_AP_ERR_MODIFIED"…): codes.ts. */
  code: DoctorCode;
  /** One line: what is the case (for pass) or what is wrong (for warn/fail/skip). */
  cause: string;
  /** One line: what to do (warn/fail/skip/pending). */
  fix?: string;
  /** pending: seconds after which the doctor should be run again. */
  retryInSeconds?: number;
}

export interface DoctorReport {
  /** True only when Kerberos will work: no check failed and none could not be run. */
  ok: boolean;
  namespace: string;
  realm?: string;
  checkedAt: string;
  findings: DoctorFinding[];
  summary: Record<CheckStatus, number>;
  /** Only pending findings keep `ok` false: run the doctor again after this many seconds. */
  retryAfterSeconds?: number;
  /** The ASA password's age against asaPasswordMaxAgeDays, when one is set (check 3). */
  asaPassword?: PasswordAge;
}

export class Report {
  readonly findings: DoctorFinding[] = [];

  add(check: CheckId, subject: string, status: CheckStatus, code: DoctorCode, cause: string, fix?: string): DoctorFinding {
    // One line each, whatever a server put into them (a report is read line by line, and by scripts).
    const f: DoctorFinding = { check, subject, status, code, cause: oneLine(cause), ...(fix ? { fix: oneLine(fix) } : {}) };
    this.findings.push(f);
    return f;
  }

  pass(check: CheckId, subject: string, cause: string): void {
    this.add(check, subject, "pass", "OK", cause);
  }
}

/** Text on one line: line breaks and control characters become spaces, runs of them one. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/ {2,}/g, " ").trim();
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/**
 * What a server said (an HTTP error page, a proxy's body), fit for a finding: markup removed,
 * character references decoded, on one line, at most `max` characters. A server's page is never
 * quoted as it came: it may be HTML over many lines.
 */
export function serverText(body: string, max = 200): string {
  const text = oneLine(
    body
      .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, " ")
      .replace(/<[^>]*>/g, " ")
      .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
        if (e[0] === "#") {
          const code = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : Number(e.slice(1));
          return Number.isFinite(code) && code > 0x1f && code < 0x110000 ? String.fromCodePoint(code) : " ";
        }
        return ENTITIES[e.toLowerCase()] ?? m;
      }),
  );
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The cause of an error a check ran into, without its fix (which goes to the finding's `fix`). */
export function message(e: unknown): string {
  if (e instanceof KerberosRolloutError) return causeOf(e);
  return e instanceof Error ? e.message : String(e);
}

export function fixOf(e: unknown, dflt: string): string {
  return e instanceof KerberosRolloutError && e.fix ? e.fix : dflt;
}

export function summarize(findings: DoctorFinding[]): Record<CheckStatus, number> {
  const summary: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0, pending: 0 };
  for (const f of findings) summary[f.status]++;
  return summary;
}

const TITLES: Record<CheckId, string> = {
  dns: "1. namespace resolves to the declared addresses",
  spn: "2. HTTP SPNs on the ASA, unique in the forest",
  asa: "3. ASA account: enabled, AES keys",
  kdcProxy: "4. the KDC proxy relays to a KDC of the realm (tickets only through it)",
  ticket: "4. service ticket from the KDC",
  decrypt: "5. ticket decrypts with the ASA password",
  binding: "6. ASA credential on every server",
  negotiate: "7. Negotiate offered, URLs on the namespace",
  endpoint: "8. the namespace's HTTPS endpoint accepts Kerberos (certificate, Negotiate, a real token, mutual auth)",
};
const MARK: Record<CheckStatus, string> = { pass: "ok  ", warn: "WARN", fail: "FAIL", skip: "SKIP", pending: "WAIT" };

/** The report as text: one line per finding, cause and fix on the same line. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines: string[] = [`doctor: Kerberos for ${report.namespace}${report.realm ? ` (${report.realm})` : ""}`];
  for (const id of Object.keys(TITLES) as CheckId[]) {
    const fs = report.findings.filter((f) => f.check === id);
    if (fs.length === 0) continue;
    lines.push(TITLES[id]);
    for (const f of fs) {
      lines.push(`  ${MARK[f.status]} ${f.subject}: ${f.status === "pass" ? f.cause : `[${f.code}] ${f.cause}${f.fix ? ` — fix: ${f.fix}` : ""}`}`);
    }
  }
  const s = report.summary;
  const verdict = report.ok ? "Kerberos will work" : report.retryAfterSeconds !== undefined ? `Kerberos will work once replication catches up: run the doctor again in ${report.retryAfterSeconds} s` : "Kerberos will NOT work";
  lines.push(`${verdict}: ${s.pass} ok, ${s.warn} warnings, ${s.fail} failed, ${s.skip} not checked${s.pending ? `, ${s.pending} pending` : ""}`);
  return lines.join("\n");
}
