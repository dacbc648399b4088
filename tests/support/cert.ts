/**
 * A throwaway TLS certificate for `localhost` and `127.0.0.1`, made with `openssl` at test time in a temp
 * directory: EC P-256, one day, with the SAN and `CA:FALSE` that Deno's TLS client (rustls) insists on.
 * @module
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The files and PEM texts of a test certificate. */
export interface TestCert {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM text of the certificate (what a client trusts). */
  readonly cert: string;
  readonly key: string;
  /** Deletes the directory. */
  remove(): Promise<void>;
}

/** Makes a self-signed certificate for `localhost` / `127.0.0.1`; rejects if `openssl` fails. */
export async function makeTestCert(): Promise<TestCert> {
  const dir = await mkdtemp(join(tmpdir(), "edge-relay-cert-"));
  const certFile = join(dir, "c.pem");
  const keyFile = join(dir, "k.pem");
  // deno-fmt-ignore
  const args = [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-addext", "basicConstraints=critical,CA:FALSE",
    "-keyout", keyFile, "-out", certFile,
  ];
  await new Promise<void>((resolve, reject) =>
    execFile(
      "openssl",
      args,
      { timeout: 10_000 },
      (error, _stdout, stderr) =>
        error ? reject(new Error(`openssl failed: ${stderr || error.message}`)) : resolve(),
    )
  );
  return {
    dir,
    certFile,
    keyFile,
    cert: await readFile(certFile, "utf8"),
    key: await readFile(keyFile, "utf8"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
