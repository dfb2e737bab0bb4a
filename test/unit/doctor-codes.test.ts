// The doctor's failure codes are an interface (scripts read `doctor --json`): every code the
// source can emit must be listed in the README's doctor section, so none appears or changes
// unannounced.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../fixtures/pulumi-cli";

function source(rel: string): string {
  return readFileSync(join(REPO_ROOT, rel), "utf8");
}

/** Codes in r.add(…, "fail"|"warn"|"skip", "CODE", …), `code: "CODE"` and fail(path, "CODE", …). */
function emittedCodes(): Set<string> {
  const files = readdirSync(join(REPO_ROOT, "provider", "doctor")).map((f) => `provider/doctor/${f}`);
  const codes = new Set<string>();
  const patterns = [/"(?:fail|warn|skip)",\s*"([A-Z][A-Z0-9_]+)"/g, /code: "([A-Z][A-Z0-9_]+)"/g, /fail\(\s*path,\s*"([A-Z][A-Z0-9_]+)"/g, /\? "([A-Z][A-Z0-9_]+)" : "([A-Z][A-Z0-9_]+)"/g];
  for (const f of files) {
    const text = source(f);
    for (const p of patterns) for (const m of text.matchAll(p)) for (const c of m.slice(1)) if (c) codes.add(c);
  }
  // Check 4 prefixes the ticket layer's codes; check 5 carries the verifier's.
  const union = (file: string, type: string): string[] => {
    const m = new RegExp(`export type ${type} =([^;]+);`).exec(source(file));
    assert.ok(m, `${type} in ${file}`);
    return [...m[1].matchAll(/"([A-Z_0-9]+)"/g)].map((x) => x[1]);
  };
  for (const c of union("provider/kerberos/tickets.ts", "TicketFailureCode")) codes.add(`TICKET_${c}`);
  for (const c of union("provider/kerberos/verify.ts", "VerifyCode")) codes.add(c);
  codes.delete("OK");
  return codes;
}

describe("doctor: stable codes", () => {
  it("the README's doctor section lists every code the doctor can report", () => {
    const readme = source("README.md");
    const section = readme.slice(readme.indexOf("## doctor"), readme.indexOf("### keytab"));
    const codes = emittedCodes();
    assert.ok(codes.size > 40, `found only ${codes.size} codes: the scan is broken`);
    for (const c of ["SPN_MISSING", "SERVER_ASA_STALE", "TOKEN_REJECTED", "CERT_NAME_MISMATCH"]) assert.ok(codes.has(c), c);
    const missing = [...codes].filter((c) => !section.includes(`\`${c}\``)).sort();
    assert.deepEqual(missing, []);
    assert.ok(!section.includes("ASA_KEYS_PREDATE_AES"));
  });
});
