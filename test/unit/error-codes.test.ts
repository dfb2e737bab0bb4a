// Error codes are an interface, like the doctor's (test/unit/doctor-codes.test.ts): every code is
// UPPER_SNAKE, used, listed in docs/reference/error-codes.md, and none is also a doctor code,
// so a script reading either knows which it has. And a message is built from the error's fields
// in one place: field, reason and fix come back out unchanged, with no parsing.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../fixtures/pulumi-cli";
import { ERROR_CODES, ErrorCode, RETIRED_ERROR_CODES } from "../../provider/error-codes";
import { AccessDeniedError, AlreadyExistsError, ConflictError, formatProblem, InvalidInputError, NotFoundError, UnreachableError } from "../../provider/errors";
import { ExchangeCommandError } from "../../provider/exchange/error-mapping";
import { IntegrityError, KerberosFormatError, UnsupportedEtypeError } from "../../provider/kerberos/errors";
import { KdcRefusal } from "../../provider/kerberos/kdc-client";
import { CheckFailures } from "../../provider/resources/dynamic";
import { DOCTOR_CODES } from "../../provider/doctor/codes";
import { InvalidProgramInputError } from "../../provider/program-error";

function section(text: string, from: string, to: string): string {
  const start = text.indexOf(from);
  assert.ok(start >= 0, from);
  return text.slice(start, text.indexOf(to, start + from.length));
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const codes = Object.keys(ERROR_CODES) as ErrorCode[];
const reference = readFileSync(join(REPO_ROOT, "docs", "reference", "error-codes.md"), "utf8");

describe("error codes", () => {
  it("are UPPER_SNAKE, each with a one-line meaning, as the doctor's are", () => {
    for (const [registry, min] of [[ERROR_CODES, 50], [DOCTOR_CODES, 40]] as [Record<string, string>, number][]) {
      const keys = Object.keys(registry);
      assert.ok(keys.length > min, `only ${keys.length} codes`);
      for (const c of keys) {
        assert.match(c, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, c);
        assert.ok(registry[c].length > 10 && !registry[c].includes("\n"), c);
      }
    }
  });

  it("docs/reference/error-codes.md lists exactly the codes of provider/error-codes.ts, each with its meaning", () => {
    const table = section(reference, "## The codes", "<!-- END GENERATED");
    const listed = [...table.matchAll(/^\| `([A-Z0-9_]+)` \| (.+) \|$/gm)].map((m) => m[1]);
    for (const m of table.matchAll(/^\| `([A-Z0-9_]+)` \| (.+) \|$/gm)) assert.equal(m[2], ERROR_CODES[m[1] as ErrorCode].replace(/\|/g, "\\|"), m[1]);
    assert.deepEqual([...listed].sort(), [...codes].sort());
    assert.equal(new Set(listed).size, listed.length, "a code listed twice");
  });

  it("no error code is also a doctor code", () => {
    assert.deepEqual(codes.filter((c) => c in DOCTOR_CODES), []);
  });

  it("every code is raised somewhere in provider/ (none is dead)", () => {
    const text = sources(join(REPO_ROOT, "provider"))
      .filter((p) => !p.endsWith("error-codes.ts"))
      .map((p) => readFileSync(p, "utf8"))
      .join("\n");
    assert.deepEqual(codes.filter((c) => !RETIRED_ERROR_CODES.includes(c) && !text.includes(`"${c}"`)), []);
  });

  it("a retired code is still listed (never reused) and raised nowhere", () => {
    const text = sources(join(REPO_ROOT, "provider"))
      .filter((p) => !p.endsWith("error-codes.ts"))
      .map((p) => readFileSync(p, "utf8"))
      .join("\n");
    for (const c of RETIRED_ERROR_CODES) {
      assert.ok(c in ERROR_CODES, c);
      assert.ok(!text.includes(`"${c}"`), `${c} is retired but raised`);
    }
  });

  it("each class has a documented code of its own, and a raise site's code wins", () => {
    const made = [
      new NotFoundError("r"),
      new AlreadyExistsError("r"),
      new ConflictError("r"),
      new AccessDeniedError("r"),
      new UnreachableError("r"),
      new InvalidInputError("f", "r"),
      new ExchangeCommandError("r"),
      new KerberosFormatError("DER", "r"),
      new IntegrityError("r"),
      new UnsupportedEtypeError(23, "r"),
      new KdcRefusal({ code: 60, name: "KRB_ERR_GENERIC" }, "r"),
    ];
    for (const e of made) assert.ok(e.code in ERROR_CODES, `${e.name}: ${e.code}`);
    assert.equal(new Set(made.map((e) => e.code)).size, made.length, "two classes share a code");
    assert.equal(new NotFoundError("r", undefined, { code: "OU_NOT_FOUND" }).code, "OU_NOT_FOUND");
  });
});

describe("messages are built from the fields", () => {
  it("FIELD: REASON. Fix: FIX, on one line, and the parts stay apart", () => {
    const e = new InvalidInputError("dns.zone", "the namespace is\n  not in the zone", "set the zone", { code: "NAMESPACE_NOT_IN_ZONE" });
    assert.equal(e.message, "dns.zone: the namespace is not in the zone. Fix: set the zone");
    assert.equal(e.reason, "the namespace is\n  not in the zone");
    assert.equal(e.fix, "set the zone");
    assert.equal(e.field, "dns.zone");
    assert.equal(new NotFoundError("gone").message, "gone");
    assert.equal(formatProblem({ reason: "r", fix: "f" }), "r. Fix: f");
    const renamed = e.renamed("KerberosRollout site: dns.zone");
    assert.equal(renamed.code, "NAMESPACE_NOT_IN_ZONE");
    assert.equal(renamed.message, "KerberosRollout site: dns.zone: the namespace is not in the zone. Fix: set the zone");
  });

  it("a check failure names the field once, and a wrapped error keeps its code and fix", () => {
    const f = new CheckFailures();
    f.add("name", "CNAME_AT_APEX", "a CNAME cannot be at the zone apex", "use an A record");
    f.guard("ttl", () => {
      throw new InvalidInputError("ttl", "-1 is not a TTL", "give whole seconds", { code: "NOT_A_TTL" });
    });
    f.addError("ou", new NotFoundError("the OU X does not exist", "create it", { code: "OU_NOT_FOUND" }), "cannot check the OU");
    f.addError("", new InvalidInputError("exchange-kerberos:ldapUrl", "is not a URL", "use ldaps://"));
    assert.deepEqual(f.failures, [
      { property: "name", reason: "a CNAME cannot be at the zone apex. Fix: use an A record" },
      { property: "ttl", reason: "-1 is not a TTL. Fix: give whole seconds" },
      { property: "ou", reason: "cannot check the OU: the OU X does not exist. Fix: create it" },
      { property: "", reason: "exchange-kerberos:ldapUrl: is not a URL. Fix: use ldaps://" },
    ]);
    assert.throws(() => f.throwFirst(), (e: unknown) => e instanceof InvalidInputError && e.code === "CNAME_AT_APEX" && e.field === "name" && e.fix === "use an A record");
  });

  it("a program's refusal is one line per problem", () => {
    const e = new InvalidProgramInputError([new InvalidInputError("a", "is\nempty", "set it", { code: "VALUE_EMPTY" }), new InvalidInputError("b", "is bad")]);
    assert.equal(e.message, "a: is empty. Fix: set it\nb: is bad");
  });
});
