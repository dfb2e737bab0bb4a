// Check 4's warnings about how the TGT was had: this machine's clock against the KDC's, and a logon
// that could only use RC4. Neither stops a ticket: the client takes every authenticator on the
// KDC's clock (MIT's kdc_timesync; kerberos/kdc-client.ts), so a wrong clock here is reported as
// what it is and never blamed on a key.
import { ETYPE, etypeName } from "../kerberos/etype";
import { CLOCK_SKEW_ALLOWANCE_MS, describeSkew } from "../kerberos/kdc-client";
import type { Logon } from "../kerberos/tickets";
import { Report } from "./report";

/** Below this the offset is left unsaid: KerberosTime has whole seconds, and NTP keeps a domain's
 * clocks well within it; above it, a clock drifts toward the 5 minutes Kerberos allows. */
export const CLOCK_OFFSET_WARN_MS = 60_000;

const TIME_SYNC_FIX = "synchronise this machine's clock with the domain controllers (Windows: w32tm /resync, with the domain hierarchy as its source; Linux: chrony or systemd-timesyncd pointed at a DC)";

export function clockFindings(logon: Logon, r: Report): void {
  const off = logon.clockOffsetMs;
  if (Math.abs(off) >= CLOCK_OFFSET_WARN_MS) {
    const beyond = Math.abs(off) > CLOCK_SKEW_ALLOWANCE_MS;
    r.add(
      "ticket",
      "this machine's clock",
      "warn",
      "CLOCK_OFFSET",
      `this machine's clock is ${describeSkew(off)} the KDC's (${logon.kdc}, measured from its answers); the doctor took every authenticator on the KDC's clock, as MIT's kdc_timesync does, so no finding here is caused by it${beyond ? ", but Windows clients and servers on this clock are refused: Kerberos allows 5 minutes" : "; Kerberos allows 5 minutes"}`,
      TIME_SYNC_FIX,
    );
  }
  if (logon.replyKeyEtype === ETYPE.RC4_HMAC) {
    r.add(
      "ticket",
      logon.client,
      "warn",
      "KERBEROS_LOGON_RC4",
      `the KDC offered only ${etypeName(ETYPE.RC4_HMAC)} for ${logon.client}'s own key, so the doctor logged on with RC4: the account has no AES keys (its password was last set before the domain had AES), and RC4 is being retired (KB 5073381)`,
      `set the password of ${logon.client} again, so that AD derives its AES keys`,
    );
  }
}
