// docs/ says what the code says: the parts generated from it (scripts/docs.ts: settings, error and
// doctor codes, the commands' usage, each resource's inputs, outputs and replacing inputs) are what
// the generator makes now; every setting the code names is in the registry; every page is reachable
// from the index, and every link between pages (file and heading) leads somewhere.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "../fixtures/pulumi-cli";
import { expectedFiles, RESOURCE_DOCS } from "../../scripts/docs";
import { SETTINGS } from "../../provider/setting-keys";
import { RESOURCE_TYPES } from "../../provider/resources/registry";

/** Pages other engineers write at the same time; a link to one may land before the page does. */
const PENDING_PAGES = new Set(["docs/platforms.md", "docs/guides/doctor-on-windows.md", "docs/reference/lifecycle.md"]);

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p, ext) : p.endsWith(ext) ? [p] : [];
  });
}

const pages = [...files(join(REPO_ROOT, "docs"), ".md"), ...["README.md", "CHANGELOG.md", "bench/README.md"].map((f) => join(REPO_ROOT, f))];

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, "").replace(/ /g, "-");
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));
}

/** Markdown links outside code and HTML comments: [text](target). */
function links(file: string): string[] {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "").replace(/<!--[\s\S]*?-->/g, "").replace(/`[^`\n]*`/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/.test(t));
}

describe("docs/", function () {
  this.timeout(30_000);

  it("the generated parts are what the code says now (else: npm run docs)", () => {
    for (const [file, text] of expectedFiles()) {
      assert.equal(readFileSync(join(REPO_ROOT, file), "utf8"), text, `${file}: its generated parts differ from the code; run npm run docs`);
    }
  });

  it("every setting the code names (exchange-kerberos:<key>) is in the registry, so in the docs", () => {
    const source = files(join(REPO_ROOT, "provider"), ".ts").map((p) => readFileSync(p, "utf8")).join("\n");
    const named = new Set([...source.matchAll(/(?:exchange-kerberos|\$\{CONFIG_NAMESPACE\}):([a-z][A-Za-z0-9]*)/g)].map((m) => m[1]));
    assert.ok(named.size > 20, `found only ${named.size} keys: the scan is broken`);
    assert.deepEqual([...named].filter((k) => !(k in SETTINGS) && k !== "index").sort(), []);
  });

  it("every resource type has its page", () => {
    assert.deepEqual(RESOURCE_DOCS.map((r) => `exchange-kerberos:${r.name}`).sort(), [...RESOURCE_TYPES].sort());
  });

  it("every link between pages leads to a file, and to a heading there", () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const target of links(page)) {
        const [file, anchor] = target.split("#");
        const path = file === "" ? page : resolve(dirname(page), file);
        if (!existsSync(path)) {
          if (!PENDING_PAGES.has(relative(REPO_ROOT, path))) broken.push(`${relative(REPO_ROOT, page)}: ${target}`);
          continue;
        }
        if (anchor && path.endsWith(".md") && !anchors(path).has(anchor)) broken.push(`${relative(REPO_ROOT, page)}: ${target} (no such heading)`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it("every page is reachable from the index (docs/README.md)", () => {
    const seen = new Set<string>();
    const visit = (page: string) => {
      if (seen.has(page) || !existsSync(page) || !page.endsWith(".md")) return;
      seen.add(page);
      for (const target of links(page)) {
        const file = target.split("#")[0];
        if (file) visit(resolve(dirname(page), file));
      }
    };
    visit(join(REPO_ROOT, "docs", "README.md"));
    assert.deepEqual(pages.filter((p) => !seen.has(p) && p !== join(REPO_ROOT, "README.md")).map((p) => relative(REPO_ROOT, p)), []);
  });
});
