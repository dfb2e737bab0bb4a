// The drift command's pure parts: what it makes of `pulumi preview --refresh --json` steps (shaped
// as pulumi 3.260 writes them for our dynamic resources: no detailedDiff, the read's `drift` output
// in oldState), its one-line wording, its text form and its arguments. The e2e tier
// (test/e2e/drift.test.ts) runs the command against the lab and a PostgreSQL backend.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { driftCommand, DriftReport, formatDrift, parseDriftArgs } from "../../provider/drift";
import { driftFromPreview, normalizeDrift, previewFailures, PreviewStep } from "../../provider/drift/preview";

const urn = (type: string, name: string): string => `urn:pulumi:s1::exchange-kerberos::exchange-kerberos:index:KerberosRollout$pulumi-nodejs:dynamic/exchange-kerberos:${type}::${name}`;

describe("drift: preview steps → findings", () => {
  it("names each recorded drift of an update as declared → found, one finding per line", () => {
    const steps: PreviewStep[] = [
      { op: "refresh", urn: urn("AsaComputerAccount", "s1-asa") },
      { op: "same", urn: "urn:pulumi:s1::exchange-kerberos::pulumi:pulumi:Stack::exchange-kerberos-s1" },
      {
        op: "update",
        urn: urn("AsaComputerAccount", "s1-asa"),
        oldState: { outputs: { password: "[secret]", drift: ["msDS-SupportedEncryptionTypes changed from 24 to 4", "account disabled", "password reset by someone else at 2026-11-30T19:00:00.000Z (we set it at x); Exchange servers still hold ours"] } },
        newState: { inputs: { password: "[secret]", supportedEncryptionTypes: 24 } },
      },
      { op: "update", urn: urn("DnsRecord", "s1-dns"), oldState: { outputs: { values: ["192.0.2.99"], drift: ["values are 192.0.2.99; declared 192.0.2.11"] } }, newState: { inputs: { values: ["192.0.2.11"] } } },
      { op: "update", urn: urn("ExchangeVirtualDirectoryUrls", "s1-urls-ex1"), oldState: { outputs: { drift: ["EX1 owa.internalUrl: declared https://a/owa, found https://b/owa"] } } },
      { op: "create", urn: urn("Spn", "s1-spn-outlook.corp.example"), newState: { inputs: { spn: "HTTP/outlook.corp.example" } } },
      { op: "delete", urn: urn("AsaBinding", "s1-bind-ex3"), oldState: { inputs: { server: "EX3" } } },
    ];
    assert.deepEqual(driftFromPreview(steps), [
      { resource: "s1-asa", type: "AsaComputerAccount", op: "update", change: "msDS-SupportedEncryptionTypes: 24 → 4", found: true },
      { resource: "s1-asa", type: "AsaComputerAccount", op: "update", change: "account: enabled → disabled", found: true },
      { resource: "s1-asa", type: "AsaComputerAccount", op: "update", change: "password: changed (set by someone else at 2026-11-30T19:00:00.000Z; the Exchange servers hold the declared one)", found: true },
      { resource: "s1-dns", type: "DnsRecord", op: "update", change: "values: 192.0.2.11 → 192.0.2.99", found: true },
      { resource: "s1-urls-ex1", type: "ExchangeVirtualDirectoryUrls", op: "update", change: "EX1 owa.internalUrl: https://a/owa → https://b/owa", found: true },
      { resource: "s1-spn-outlook.corp.example", type: "Spn", op: "create", change: "spn HTTP/outlook.corp.example: declared → not found (gone, or moved out of the stack's reach)", found: true },
      { resource: "s1-bind-ex3", type: "AsaBinding", op: "delete", change: "server EX3: not declared → found", found: true },
    ]);
  });

  it("without a recorded drift, compares declared inputs with what was found, and never shows a secret", () => {
    const steps: PreviewStep[] = [
      { op: "update", urn: urn("AsaBinding", "s1-bind-ex1"), oldState: { outputs: { account: "CORP\\OLD$", password: "[secret]", resourceUrn: "x" } }, newState: { inputs: { account: "CORP\\NEW$", password: "[secret]", resourceUrn: "y" } } },
      { op: "update", urn: urn("AsaPassword", "s1-asa-password"), oldState: { outputs: { password: "[secret]" } }, newState: { inputs: { password: "[secret]" } } },
    ];
    const found = driftFromPreview(steps);
    assert.deepEqual(found.map((f) => f.change), ["account: CORP\\NEW$ → CORP\\OLD$", "declared settings differ from what was found (a secret, or a setting read only at up)"]);
    assert.ok(!JSON.stringify(found).includes("[secret]"));
  });

  it("leaves wording it does not know as it is", () => {
    assert.equal(normalizeDrift("description changed"), "description changed");
    assert.equal(normalizeDrift("TTL is 60; declared 3600"), "TTL: 3600 → 60");
    assert.equal(normalizeDrift("moved from CN=A,OU=X to CN=A,OU=Y"), "DN: CN=A,OU=X → CN=A,OU=Y");
  });
});

describe("drift: text form and arguments", () => {
  it("prints one line per finding with its doctor codes, and the repair", () => {
    const r: DriftReport = {
      ok: false,
      checkedAt: "t",
      stacks: [
        { stack: "berlin", status: "drift", doctorOk: false, findings: [{ stack: "berlin", resource: "berlin-dns", type: "DnsRecord", change: "values: a → b", doctor: ["DNS_WRONG_ADDRESS"], kind: "drift" }] },
        { stack: "paris", status: "ok", findings: [] },
        { stack: "rome", status: "error", findings: [], error: "pulumi preview --refresh failed: error: x" },
      ],
    };
    assert.equal(
      formatDrift(r),
      [
        "berlin: DRIFT berlin-dns (DnsRecord): values: a → b [DNS_WRONG_ADDRESS]",
        "berlin: 1 finding(s), Kerberos will NOT work; repair: pulumi up --refresh --stack berlin",
        "paris: no drift, Kerberos works",
        "rome: COULD NOT CHECK: pulumi preview --refresh failed: error: x",
      ].join("\n"),
    );
  });

  it("takes --stack (repeatable) or --all, not both and not neither", () => {
    assert.deepEqual(parseDriftArgs(["--stack", "a", "-s", "b", "--json"]), { stacks: ["a", "b"], all: false, json: true });
    assert.deepEqual(parseDriftArgs(["--all", "--cwd=/p"]), { stacks: [], all: true, json: false, cwd: "/p" });
    assert.throws(() => parseDriftArgs([]), /--stack NAME or --all/);
    assert.throws(() => parseDriftArgs(["--all", "--stack", "a"]), /--stack NAME or --all/);
    assert.throws(() => parseDriftArgs(["--stack"]), /--stack needs a value/);
    assert.throws(() => parseDriftArgs(["--bogus"]), /unknown argument --bogus/);
  });
});

describe("drift: a check that could not run exits 2, not 1", () => {
  // The engine's wordings (pulumi 3.260, sdk/go/common/diag/errors.go): a step that failed at
  // preview is "Preview failed: …" (code 2005); a check refusal is "<type> resource '<name>' has a
  // problem: …" or "…: property P value V has a problem: …" (2002, 2003). The digest keeps the
  // severity's prefix and the final newline (diag/sink.go Stringify).
  const refused = "pulumi-nodejs:dynamic:Resource resource 's1-spn-outlook.corp.example': property spn value HTTP/outlook.corp.example has a problem: spn: HTTP/outlook.corp.example is already held by CN=LEGACYWEB";
  const unreadable = "Preview failed: ldapUrl: the domain controller ldaps://192.0.2.1 does not answer (connect ECONNREFUSED). Fix: check the address";

  it("tells a resource that could not be read from a check refusal (a change made by hand the preview will not plan)", () => {
    assert.deepEqual(
      previewFailures([
        { severity: "error", message: `error: ${refused}\n` },
        { severity: "error", message: `error: ${unreadable}\n` },
        { severity: "warning", message: "warning: ldapVerifyCertificate is false" },
        { severity: "info#err", message: "adopt: EX3 holds no ASA credential" },
      ]),
      [unreadable],
    );
    assert.deepEqual(previewFailures([{ severity: "error", message: "error: pulumi-nodejs:dynamic:Resource resource 's1-asa' has a problem: asaOu: no such OU\n" }]), []);
  });

  // The real `pulumi` is replaced on PATH by a script that answers as 3.260 does: the digest on
  // stdout (diagnostics inside it, nothing on stderr) or, before any JSON, an error on stderr.
  let dir: string;
  let savedPath: string | undefined;
  const fakePulumi = (stdout: string, stderr: string, code: number): void => {
    fs.writeFileSync(path.join(dir, "out.json"), stdout);
    fs.writeFileSync(path.join(dir, "pulumi"), `#!/bin/sh\ncat '${path.join(dir, "out.json")}'\nprintf '%s\\n' '${stderr}' >&2\nexit ${code}\n`, { mode: 0o755 });
  };
  const driftOf = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = "";
    let err = "";
    const code = await driftCommand(args, (t) => void (out += t), (t) => void (err += t));
    return { code, out, err };
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "drift-fake-pulumi-"));
    savedPath = process.env.PATH;
    process.env.PATH = `${dir}${path.delimiter}${savedPath ?? ""}`;
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a DC or Exchange server that cannot be read (reported in the JSON digest only): exit 2, its cause named, no drift claimed", async () => {
    const digest = {
      steps: [
        { op: "same", urn: "urn:pulumi:s1::exchange-kerberos::pulumi:pulumi:Stack::exchange-kerberos-s1" },
        { op: "refresh", urn: urn("DnsRecord", "s1-dns") },
      ],
      diagnostics: [{ urn: urn("DnsRecord", "s1-dns"), message: `error: ${unreadable}\n`, severity: "error" }],
    };
    fakePulumi(JSON.stringify(digest), "", 255);
    const r = await driftOf(["--stack", "s1"]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.equal(r.out, `s1: COULD NOT CHECK: pulumi preview --refresh failed: ${unreadable}\n`);
    const j = await driftOf(["--stack", "s1", "--json"]);
    assert.equal(j.code, 2);
    const rep = JSON.parse(j.out) as DriftReport;
    assert.equal(rep.ok, false);
    assert.equal(rep.stacks[0].status, "error");
  });

  it("a stack that does not exist, or a backend that cannot be reached (no JSON at all): exit 2 with pulumi's error", async () => {
    fakePulumi("", "error: failed to load checkpoint: dial tcp 192.0.2.1:5432: connect: connection refused", 255);
    const r = await driftOf(["--stack", "s1"]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.equal(r.out, "s1: COULD NOT CHECK: pulumi preview --refresh failed: error: failed to load checkpoint: dial tcp 192.0.2.1:5432: connect: connection refused\n");
  });

  it("--all when the backend cannot list its stacks: exit 2", async () => {
    fakePulumi("", "error: could not list stacks: connection refused", 255);
    const r = await driftOf(["--all"]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, /pulumi stack ls failed: error: could not list stacks: connection refused/);
  });
});
