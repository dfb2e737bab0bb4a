// The rotation a maximum age asks for (AsaComputerAccount's `passwordMaxAgeDays`), decided in the
// ASA's `check` so that the preview plans it and `up` does exactly that.
//
// `pulumi up` runs the program and the provider twice, in two processes: a preview pass, whose plan
// the user sees, and an update pass. Both must come to the same decision and the plan must be what
// the update does:
// - The decision rests on AD's pwdLastSet (the same in both passes: nothing writes it in between)
//   and on one moment, the start of the `pulumi` command that runs both passes
//   (current-config.ts `commandStartedAt`), not on each process's own clock: a password that falls
//   due between the two passes is due in both, or in neither.
// - The new password is never known at preview. The program tells the ASA which pass it runs in
//   (`previewPass`, pulumi.runtime.isDryRun(), never recorded): at preview check returns the
//   password as not known yet, so the engine plans the ASA, every AsaBinding and AsaPassword as
//   updated — the same plan as a rotation by a new `asaPassword` —; in the update pass it generates
//   the password (73 random characters, as a create does). No value is derived from the old
//   password or kept in state ahead of time, so nothing that leaked before the rotation tells the
//   new password.
// A password given to the stack is never replaced: the preview says it is due and how to rotate it.
import { warn } from "../errors";
import { describeAge, passwordAge } from "../asa-password-age";
import { commandStartedAt } from "../current-config";
import { generatePassword } from "../ldap/unicode-pwd";
import { registerSecret } from "../secrets";
import { CONFIG_NAMESPACE } from "../settings";
import { UNKNOWN } from "./dynamic";

export interface RotationInputs {
  name: string;
  /** Declared by the program (undefined: the stack generated the one it holds). */
  password?: string;
  passwordMaxAgeDays?: number;
  deferPasswordSet: boolean;
  /** True in the program's preview pass (dry run). */
  previewPass: boolean;
}

/**
 * At the ASA's `check`, for the account this stack manages: `password` (a new one, or not known yet
 * at preview) and `passwordRotation` (why, for the preview's JSON: drift reads it) when the password
 * is due. `pwdLastSet` is AD's (ISO 8601, or "never"); `settled` is false while a rotation is under
 * way (AD does not hold the recorded password yet), which is finished before another starts.
 */
export function rotationAtCheck(inputs: RotationInputs, account: string, pwdLastSet: string, settled: boolean): { password?: string; passwordRotation?: string } {
  if (inputs.passwordMaxAgeDays === undefined) return {};
  if (!settled) {
    // A rotation that stopped between the servers and AD (a failed or killed up): this up finishes
    // it with the password the servers already hold. Said at preview, for drift and the rotation job.
    const line = `${account}'s new password is bound on the servers but not yet set in AD (a rotation under way): this up finishes it`;
    warn(line);
    return inputs.previewPass ? { passwordRotation: line } : {};
  }
  const setAt = Date.parse(pwdLastSet);
  if (!Number.isFinite(setAt)) return {};
  const age = passwordAge(new Date(setAt), inputs.passwordMaxAgeDays, commandStartedAt());
  if (age.status !== "overdue") return {};
  const why = `${account}'s password was ${describeAge(age)} (passwordMaxAgeDays)`;
  if (inputs.password !== undefined) {
    warn(
      `${why}: it is due, and it is the password given to the stack, which the stack never replaces`,
      `rotate it: pulumi config set --secret ${CONFIG_NAMESPACE}:asaPassword <a new password>, then pulumi up (or pulumi config rm ${CONFIG_NAMESPACE}:asaPassword to have the stack generate one and rotate it when due)`,
    );
    return {};
  }
  const line = inputs.deferPasswordSet
    ? `${why}: this up rotates it — every AsaBinding binds a new password on its server first (keeping AD's current one beside it), then AsaPassword sets it in AD`
    : `${why}: this up sets a new one in AD`;
  warn(line);
  if (inputs.previewPass) return { password: UNKNOWN, passwordRotation: line };
  const password = generatePassword(undefined, inputs.name);
  registerSecret(password);
  return { password };
}
