/**
 * The library example of the README, run as written from a user's own file in a directory of its own, in a
 * subprocess: on Deno (`RELAY_RUNTIME` unset) importing `mod.ts` by its path, on Bun (`RELAY_RUNTIME=bun`) by
 * its path and by the package name (`exports` of package.json, through `node_modules/edge-relay`).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";

const REPO = resolve(import.meta.dirname!, "../..");
const BUN = process.env.RELAY_RUNTIME === "bun";

/** The first `ts` block of the README's "Use it as a library" section, exactly as users read it. */
async function readmeExample(): Promise<string> {
  const readme = await readFile(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Use it as a library"));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(m, "the README has the library example");
  return m[1];
}

/** What the user's program does after the example: use the relay as a client would, then stop it. */
const AFTERWARDS = `
const hello = await fetch(url + "/hello");
console.log("hello", hello.status, await hello.text());
const post = (text: string) =>
  fetch(url + "/channels/news/messages", { method: "POST", headers: { "content-type": "text/plain" }, body: text });
const spam = await post("buy spam now");
console.log("spam", spam.status, (await spam.json()).error);
const ham = await post("ham");
console.log("ham", ham.status);
const history = await (await fetch(url + "/channels/news/messages?since=0")).json();
console.log("history", JSON.stringify(history.messages.map((m: { text: string }) => m.text)));
await relay.stop();
console.log("stopped");
`;

/** Runs `file` with the runtime under test; resolves with its output and exit code. */
function run(dir: string, file: string): Promise<{ code: number | null; out: string }> {
  const [cmd, ...args] = BUN
    ? [process.env.BUN_BIN ?? "bun", "run", file]
    // A user's own directory has no deno.json: the repository's supplies the npm dependencies (docs/library.md
    // shows the imports a project of its own declares instead).
    : [process.execPath, "run", "--allow-all", "--config", join(REPO, "deno.json"), file];
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    child.stdout.on("data", (chunk) => out += chunk);
    child.stderr.on("data", (chunk) => out += chunk);
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", fail);
    child.on("exit", (code) => {
      clearTimeout(timer);
      done({ code, out });
    });
  });
}

function assertRanAsDocumented(result: { code: number | null; out: string }): void {
  assert.equal(result.code, 0, result.out);
  assert.match(result.out, /^hello 200 hi$/m, result.out);
  // The example's onPublish hook returns false for spam: the publisher sees 403, and history never has it.
  assert.match(result.out, /^spam 403 forbidden$/m, result.out);
  assert.match(result.out, /^ham 200$/m, result.out);
  assert.match(result.out, /^history \["from server","ham"\]$/m, result.out);
  assert.match(result.out, /^stopped$/m, result.out);
}

describe(`the README's library example runs as written from a user's file (${BUN ? "Bun" : "Deno"})`, () => {
  let dir: string;
  let example: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "edge-relay-user-"));
    example = await readmeExample();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("importing mod.ts by its path", async () => {
    assert.match(example, /from "\.\/mod\.ts"/);
    const source = example.replace(`"./mod.ts"`, JSON.stringify(join(REPO, "mod.ts"))) + AFTERWARDS;
    await writeFile(join(dir, "by_path.ts"), source);
    assertRanAsDocumented(await run(dir, "by_path.ts"));
  });

  it(
    "importing the package by its name",
    { skip: !BUN && "Deno runs no TypeScript from node_modules" },
    async () => {
      // What a package manager leaves after installing the package from its directory.
      await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }));
      await mkdir(join(dir, "node_modules"));
      await symlink(REPO, join(dir, "node_modules", "edge-relay"));
      const source = example.replace(`"./mod.ts"`, `"edge-relay"`) + AFTERWARDS;
      await writeFile(join(dir, "by_name.ts"), source);
      assertRanAsDocumented(await run(dir, "by_name.ts"));
    },
  );

  it("refuses an invalid option with the flag's message, naming the option", async () => {
    const source = `import { createRelay, ConfigError } from ${JSON.stringify(join(REPO, "mod.ts"))};
try {
  await createRelay({ maxQueuedBytes: "lots" });
} catch (error) {
  console.log(error instanceof ConfigError, (error as Error).message);
}
`;
    await writeFile(join(dir, "invalid.ts"), source);
    const result = await run(dir, "invalid.ts");
    assert.equal(result.code, 0, result.out);
    assert.match(
      result.out,
      /^true maxQueuedBytes: expected a size in bytes \(e\.g\. 1048576, 64KiB, 1MiB\), got 'lots'$/m,
    );
  });
});
