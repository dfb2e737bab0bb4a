// Check 3's last finding: the ASA password's age (AD's pwdLastSet) against the stack's maximum
// (`asaPasswordMaxAgeDays`): ok, due within a week (warn), or overdue. Overdue is a warning too: an
// old password still decrypts every ticket, and the doctor's verdict says whether Kerberos works.
// `drift` counts it as drift (exit 1), which is what fails a schedule (docs/guides/unattended-rotation.md).
import { describeAge, describeDue, passwordAge, PasswordAge } from "../asa-password-age";
import { CONFIG_NAMESPACE } from "../settings";
import type { DoctorOptions } from "./options";
import type { Report } from "./report";

/** Adds the finding and returns the age, when a maximum is set and AD's pwdLastSet is known. */
export function checkPasswordAge(o: Pick<DoctorOptions, "asaPasswordMaxAgeDays" | "asaPasswordGiven">, passwordLastSet: Date | undefined, qualifiedName: string, r: Report, now = new Date()): PasswordAge | undefined {
  if (o.asaPasswordMaxAgeDays === undefined || passwordLastSet === undefined) return undefined;
  const age = passwordAge(passwordLastSet, o.asaPasswordMaxAgeDays, now);
  const what = `the password was ${describeAge(age)} (${CONFIG_NAMESPACE}:asaPasswordMaxAgeDays): ${describeDue(age)}`;
  const fix = o.asaPasswordGiven
    ? `the stack holds the password it was given (${CONFIG_NAMESPACE}:asaPassword), which it never replaces: pulumi config set --secret ${CONFIG_NAMESPACE}:asaPassword <a new password>, then pulumi up`
    : "pulumi up rotates it (the stack generated it): every server is bound with a new password first, then AD's is set; or let the rotation job do it (docs/guides/unattended-rotation.md)";
  if (age.status === "ok") r.pass("asa", qualifiedName, what);
  else r.add("asa", qualifiedName, "warn", age.status === "overdue" ? "ASA_PASSWORD_OVERDUE" : "ASA_PASSWORD_DUE_SOON", what, fix);
  return age;
}
