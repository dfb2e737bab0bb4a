// What `npm pack` ships is the runtime and what its users read: the compiled provider, its
// PowerShell module, the README, the CHANGELOG, the user documentation (docs/, minus the pages for
// contributors: the installed version's own pages, which the README links to) and package.json —
// no tests, fixtures, scripts, TypeScript sources or contributor pages.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { REPO_ROOT } from "../fixtures/pulumi-cli";

describe("the packed package", function () {
  this.timeout(60_000);

  it("holds only runtime files and the user documentation, and every file the provider loads", function () {
    const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    const runtime = (p: string) =>
      /^dist\/provider\/.+\.(js|d\.ts|js\.map)$/.test(p) || /^docs\/((resources|guides|reference)\/)?([a-z-]+|README)\.md$/.test(p) || ["README.md", "CHANGELOG.md", "package.json", "provider/exchange/ExchangeKerberos.psm1"].includes(p);
    assert.deepEqual(files.filter((p) => !runtime(p)), []);
    assert.deepEqual(files.filter((p) => /(^|\/)(test|fixtures|scripts|bench|development)\//.test(p)), []);
    for (const needed of ["docs/README.md", "docs/installation-configuration.md", "docs/reference/state-compatibility.md", "CHANGELOG.md"]) assert.ok(files.includes(needed), `${needed} is packed`);
    for (const needed of ["dist/provider/index.js", "dist/provider/cli.js", "dist/provider/resources/dynamic.js", "dist/provider/resources/registry.js", "provider/exchange/ExchangeKerberos.psm1"]) {
      assert.ok(files.includes(needed), `${needed} is packed`);
    }
  });
});
