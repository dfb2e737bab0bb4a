// The doctor's failure codes are an interface (scripts read `doctor --json`), under the same
// convention as the errors' codes (test/unit/error-codes.test.ts): one registry
// (provider/doctor/codes.ts), which the type of `Report.add` holds every finding to; every code
// in it is listed in docs/reference/doctor.md and is reported somewhere, so none appears,
// disappears or changes unannounced. Their form (UPPER_SNAKE, one line each) is checked with the
// errors' codes.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../fixtures/pulumi-cli";
import { DOCTOR_CODES, DoctorCode } from "../../provider/doctor/codes";

function source(rel: string): string {
  return readFileSync(join(REPO_ROOT, rel), "utf8");
}

const codes = Object.keys(DOCTOR_CODES) as DoctorCode[];

describe("doctor: stable codes", () => {
  it("docs/reference/doctor.md lists every code the doctor can report", () => {
    const page = source("docs/reference/doctor.md");
    const section = page.slice(0, page.indexOf("## The codes"));
    const listed = [...page.slice(page.indexOf("## The codes")).matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual([...listed].sort(), [...codes].sort(), "the generated table lists exactly the registry's codes");
    for (const c of ["SPN_MISSING", "SERVER_ASA_STALE", "TOKEN_REJECTED", "CERT_NAME_MISMATCH"]) assert.ok(codes.includes(c as DoctorCode), c);
    const missing = codes.filter((c) => c !== "OK" && !section.includes(`\`${c}\``)).sort();
    assert.deepEqual(missing, []);
    // And the table names no code the registry lacks (one the type of Report.add would refuse).
    const tabled = new Set([...section.matchAll(/^\|.*$/gm)].flatMap((row) => [...row[0].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1])));
    assert.ok(tabled.size > 40, `found only ${tabled.size} codes in the table: the scan is broken`);
    assert.deepEqual([...tabled].filter((c) => !(c in DOCTOR_CODES)).sort(), []);
    assert.ok(!section.includes("ASA_KEYS_PREDATE_AES"));
  });

  it("every code is reported somewhere (none is dead)", () => {
    // The doctor's files, and discover's, which reports its findings with the same codes.
    const doctor = ["doctor", "discover"]
      .flatMap((dir) => readdirSync(join(REPO_ROOT, "provider", dir)).filter((f) => f !== "codes.ts").map((f) => source(`provider/${dir}/${f}`)))
      .join("\n");
    // Check 4 prefixes the ticket layer's codes; check 5 carries the verifier's.
    const union = (file: string, type: string): string[] => {
      const m = new RegExp(`export type ${type} =([^;]+);`).exec(source(file));
      assert.ok(m, `${type} in ${file}`);
      return [...m[1].matchAll(/"([A-Z_0-9]+)"/g)].map((x) => x[1]);
    };
    const reported = new Set([
      ...union("provider/kerberos/tickets.ts", "TicketFailureCode").map((c) => `TICKET_${c}`),
      ...union("provider/kerberos/verify.ts", "VerifyCode"),
    ]);
    assert.deepEqual(codes.filter((c) => !reported.has(c) && !doctor.includes(`"${c}"`)), []);
  });
});
