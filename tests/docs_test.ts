/**
 * The docs follow the code: the README's flag table lists exactly the flags the relay accepts, with their
 * defaults, and every file of `src/` appears in the file table of its layer's doc.
 * @module
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { FLAGS, parseDuration, parseSize } from "../src/config.ts";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");

/** The README rows of the form `| \`--flag\`, \`--other\` | default | meaning |`. */
function readmeFlagRows(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readFileSync(join(ROOT, "README.md"), "utf8").split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    if (cells.length < 4 || !cells[1].startsWith("`--")) continue;
    for (const match of cells[1].matchAll(/`--([a-z0-9-]+)`/g)) rows.set(match[1], cells[2]);
  }
  return rows;
}

/** How the README writes a default: sizes and counts as numbers, durations in seconds, none/off/empty. */
function readmeDefault(spec: (typeof FLAGS)[string]): string {
  const value = spec.default;
  if (value === null) return "none";
  if (value === false) return "off";
  if (value === true) return "on";
  if (Array.isArray(value)) return value.length === 0 ? "empty" : value.join(",");
  if (spec.kind === "duration" && typeof value === "number") {
    return value % 1000 === 0 ? `${value / 1000}s` : `${value}ms`;
  }
  return String(value);
}

describe("README", () => {
  it("lists every flag the relay accepts, and no other", () => {
    const documented = [...readmeFlagRows().keys()].sort();
    assert.deepEqual(documented, Object.keys(FLAGS).sort());
  });

  it("gives each flag the default the code uses", () => {
    const rows = readmeFlagRows();
    for (const [flag, spec] of Object.entries(FLAGS)) {
      if (!rows.has(flag)) continue; // reported by the test above
      const written = rows.get(flag)!;
      // Sizes and durations may be written in any unit the flag itself accepts (64MiB, 300s).
      const parse = spec.kind === "size" ? parseSize : spec.kind === "duration" ? parseDuration : null;
      if (parse !== null && parse(written) !== null) {
        assert.equal(parse(written), spec.default, `README default of --${flag} (${written})`);
      } else {
        assert.equal(written, readmeDefault(spec), `README default of --${flag}`);
      }
    }
  });
});

/** The doc whose file table lists each folder's files (folders not named here fall to their parent's doc). */
const DOC_OF_FOLDER: Readonly<Record<string, string>> = {
  "": "docs/relay.md",
  util: "docs/relay.md",
  protocol: "docs/relay.md",
  access: "docs/relay.md",
  relay: "docs/relay.md",
  transports: "docs/relay.md",
  app: "docs/relay.md",
  "app/pages": "docs/relay.md",
  observability: "docs/relay.md",
  runtime: "docs/runtime.md",
  http: "docs/http.md",
  websocket: "docs/websocket.md",
  pubsub: "docs/pubsub.md",
  "pubsub/redis": "docs/redis.md",
  "pubsub/sqlite": "docs/sqlite.md",
};

/** Every `.ts` file under `src/`, as `folder/name.ts` relative to `src/`. */
function sourceFiles(folder = ""): string[] {
  const files: string[] = [];
  for (const name of readdirSync(join(ROOT, "src", folder)).sort()) {
    const path = folder === "" ? name : `${folder}/${name}`;
    if (statSync(join(ROOT, "src", path)).isDirectory()) files.push(...sourceFiles(path));
    else if (name.endsWith(".ts")) files.push(path);
  }
  return files;
}

/**
 * The table rows a doc gives a folder: in a doc with `### \`src/<folder>/\`` sections (docs/relay.md), the rows
 * of that section; otherwise every row of the doc.
 */
function tableRowsFor(doc: string, folder: string): string[] {
  const text = readFileSync(join(ROOT, doc), "utf8");
  const heading = folder === "" ? "### `src/`" : `### \`src/${folder}/\``;
  let scope = text;
  if (text.includes("\n### `src/")) {
    const start = text.indexOf(`\n${heading}\n`);
    if (start === -1) return [];
    const next = text.indexOf("\n#", start + heading.length + 2);
    scope = text.slice(start, next === -1 ? undefined : next);
  }
  return scope.split("\n").filter((line) => line.startsWith("|"));
}

describe("docs", () => {
  it("list every file of src/ in the file table of its folder's doc", () => {
    const missing: string[] = [];
    for (const path of sourceFiles()) {
      const slash = path.lastIndexOf("/");
      const folder = slash === -1 ? "" : path.slice(0, slash);
      const name = path.slice(slash + 1);
      const doc = DOC_OF_FOLDER[folder];
      if (doc === undefined) {
        missing.push(`src/${path}: folder src/${folder}/ has no doc in DOC_OF_FOLDER`);
        continue;
      }
      const rows = tableRowsFor(doc, folder);
      if (!rows.some((row) => row.startsWith(`| \`${name}\``) || row.includes(`| \`src/${path}\``))) {
        missing.push(`src/${path} is not in a file table of ${doc}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
