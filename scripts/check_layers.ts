/**
 * The layer rule, checked: which folder of `src/` may import which, which folder owns each npm package, where
 * runtime globals may appear, and that a folder is entered only through its `mod.ts` door. `deno task ok`
 * runs it; it exits 1 and names every offending import.
 *
 * ```sh
 * deno run --allow-read scripts/check_layers.ts [ROOT]
 * ```
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import process from "node:process";

/** A folder of `src/` and what it may import. */
export interface LayerRule {
  /** Top-level folders of `src/` this layer may import (itself always). `"*"` = any. */
  mayImport: readonly string[] | "*";
}

/** The rules of this codebase (docs/relay.md explains them). */
export interface LayerRules {
  /** Top-level folder of `src/` → its rule. Files directly in `src/` are the `""` layer. */
  layers: Readonly<Record<string, LayerRule>>;
  /**
   * npm package (bare name, first segment) or runtime builtin (`node:sqlite`) → folders (paths under `src/`)
   * allowed to import it.
   */
  packageOwners: Readonly<Record<string, readonly string[]>>;
  /** Folders (paths under `src/`) where `Deno.` and `Bun.` may appear. */
  runtimeGlobals: readonly string[];
}

/**
 * The dependency direction (docs/relay.md): leaves (`http`, `websocket`, `pubsub`, `protocol`) know only
 * `util` and the runtime's `Conn` type; `access` decides who may do what; the relay core (`relay`) knows no
 * transport, no Hono and no WebSocket; `transports` turn a wire into the core's `Outbound`; `app` routes;
 * files directly in `src/` (main, start, config) assemble everything.
 */
export const LAYER_RULES: LayerRules = {
  layers: {
    "": { mayImport: "*" },
    runtime: { mayImport: ["util"] },
    util: { mayImport: [] },
    protocol: { mayImport: [] },
    http: { mayImport: ["runtime", "util"] },
    websocket: { mayImport: ["runtime", "util"] },
    pubsub: { mayImport: ["util"] },
    access: { mayImport: ["http", "runtime", "util"] },
    relay: { mayImport: ["pubsub", "protocol", "access", "util"] },
    transports: { mayImport: ["relay", "websocket", "http", "pubsub", "protocol", "util"] },
    app: {
      mayImport: [
        "access",
        "relay",
        "transports",
        "pubsub",
        "protocol",
        "http",
        "websocket",
        "observability",
        "util",
      ],
    },
    // Typed by shape: it reads the other layers' counters without importing them.
    observability: { mayImport: ["util"] },
  },
  packageOwners: {
    hono: ["access", "app", "transports"],
    ioredis: ["pubsub/redis"],
    "node:sqlite": ["pubsub/sqlite"],
  },
  runtimeGlobals: ["runtime"],
};

/** One broken rule. */
export interface Violation {
  /** Path relative to the checked root, with `/` separators. */
  file: string;
  line: number;
  message: string;
}

const IMPORT_PATTERN =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
const RUNTIME_GLOBAL = /(?<![\w.$"'`])(Deno|Bun)\.[A-Za-z_]/;

/** Checks every `.ts` file under `root/src` against `rules`. */
export function checkLayers(root: string, rules: LayerRules = LAYER_RULES): Violation[] {
  const src = join(root, "src");
  const violations: Violation[] = [];
  for (const path of listTs(src)) {
    const file = toPosix(relative(root, path));
    const fromFolder = toPosix(relative(src, dirname(path)));
    const layer = topFolder(fromFolder);
    const rule = rules.layers[layer];
    const text = readFileSync(path, "utf8");
    const code = stripComments(text);
    if (rule === undefined) {
      violations.push({
        file,
        line: 1,
        message: `folder src/${layer}/ has no layer rule in check_layers.ts`,
      });
    }
    for (const { specifier, line } of importsOf(code)) {
      const report = (message: string) => violations.push({ file, line, message });
      if (specifier.startsWith(".")) {
        const target = normalize(join(dirname(path), specifier));
        const targetFolder = toPosix(relative(src, dirname(target)));
        if (targetFolder.startsWith("..")) continue; // outside src (package.json, …)
        const targetLayer = topFolder(targetFolder);
        if (
          rule && targetLayer !== layer && rule.mayImport !== "*" && !rule.mayImport.includes(targetLayer)
        ) {
          report(`src/${layer || "."} may not import src/${targetLayer}/ (${specifier})`);
        }
        const isAncestor = targetFolder === "" || isInside(fromFolder, targetFolder);
        if (!isAncestor && !target.endsWith(`${sep}mod.ts`)) {
          report(`import of ${specifier} bypasses src/${targetFolder}/mod.ts`);
        }
      } else {
        // Runtime builtins are open to every folder unless listed by their full name (`node:sqlite`).
        const name = specifier.startsWith("node:") ? specifier : packageName(specifier);
        const owners = rules.packageOwners[name];
        if (owners && !owners.some((owner) => isInside(fromFolder, owner))) {
          report(`${name} may be imported only in ${owners.map((o) => `src/${o}/`).join(", ")}`);
        }
      }
    }
    if (!rules.runtimeGlobals.some((folder) => isInside(fromFolder, folder))) {
      code.split("\n").forEach((text, index) => {
        const match = RUNTIME_GLOBAL.exec(stripStrings(text));
        if (match) {
          violations.push({
            file,
            line: index + 1,
            message: `${match[1]}.* outside ${rules.runtimeGlobals.map((f) => `src/${f}/`).join(", ")}`,
          });
        }
      });
    }
  }
  return violations;
}

/**
 * The browser client (`client/` at the root, bundled into `/client.js`) may import its own files and the wire
 * format, `src/protocol/mod.ts`, which imports nothing: so the bundle carries no server code, no package and
 * no runtime global, and runs in browsers, Deno and Bun alike.
 */
export function checkClient(root: string): Violation[] {
  const client = join(root, "client");
  const protocol = join(root, "src", "protocol", "mod.ts");
  const violations: Violation[] = [];
  let files: string[];
  try {
    files = listTs(client);
  } catch {
    return violations; // no client in this tree
  }
  for (const path of files) {
    const file = toPosix(relative(root, path));
    const code = stripComments(readFileSync(path, "utf8"));
    for (const { specifier, line } of importsOf(code)) {
      const target = specifier.startsWith(".") ? normalize(join(dirname(path), specifier)) : null;
      const inClient = target !== null && !relative(client, target).startsWith("..");
      if (target !== protocol && !inClient) {
        violations.push({
          file,
          line,
          message: `client/ may import only client/ and src/protocol/mod.ts (${specifier})`,
        });
      }
    }
    code.split("\n").forEach((text, index) => {
      const match = RUNTIME_GLOBAL.exec(stripStrings(text));
      if (match) violations.push({ file, line: index + 1, message: `${match[1]}.* in client/` });
    });
  }
  return violations;
}

function importsOf(code: string): { specifier: string; line: number }[] {
  const found: { specifier: string; line: number }[] = [];
  for (const match of code.matchAll(IMPORT_PATTERN)) {
    const specifier = match[1] ?? match[2];
    const line = code.slice(0, match.index).split("\n").length + (match[0].startsWith("\n") ? 1 : 0);
    found.push({ specifier, line });
  }
  return found;
}

/** Blanks comments, keeping line breaks so line numbers stay right. */
function stripComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, " "))
    .replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

function stripStrings(line: string): string {
  return line.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}

function topFolder(folder: string): string {
  return folder === "" ? "" : folder.split("/")[0];
}

function isInside(folder: string, ancestor: string): boolean {
  return folder === ancestor || folder.startsWith(ancestor + "/");
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}

function listTs(folder: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(folder).sort()) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) files.push(...listTs(path));
    else if (name.endsWith(".ts")) files.push(path);
  }
  return files;
}

if (import.meta.main) {
  const root = process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), "..");
  const violations = [...checkLayers(root), ...checkClient(root)];
  for (const v of violations) console.error(`${v.file}:${v.line}: ${v.message}`);
  if (violations.length > 0) {
    console.error(`check_layers: ${violations.length} violation(s) of the layer rule (see docs/relay.md)`);
    process.exit(1);
  }
  console.log("check_layers: every import follows the layer rule");
}
