/**
 * Test certificates made at test time with the `openssl` CLI (EC P-256 keys, valid for 2 days).
 *
 *   import { haveOpenssl, getTestCertificates, certificateThumbprint } from './helpers/certs.js';
 *
 *   describe.skipIf(!haveOpenssl)('needs openssl', () => { ... });
 *   const certs = await getTestCertificates(); // generated once per process, then cached
 *   certs.ca          // { cert, key }: the test CA (trust anchor for the server and the client cert)
 *   certs.server      // { cert, key }: CA-signed, SAN IP:127.0.0.1, IP:::1, DNS:localhost, serverAuth
 *   certs.client      // { cert, key, subjectDn }: CA-signed, clientAuth; subjectDn in RFC 4514 form
 *                     //   (`CN=m2m-token test client,O=m2m-token tests`), as used by tls_client_auth_subject_dn
 *   certs.selfSignedClient // { cert, key }: self-signed, clientAuth (self_signed_tls_client_auth)
 *   certs.dir         // the temp directory holding the PEM files (removed when the process exits)
 *   certificateThumbprint(pem) // base64url SHA-256 of the DER certificate (RFC 8705 3.1 `x5t#S256`)
 *
 * Every value is a PEM string; keys are PKCS#8 (`-----BEGIN PRIVATE KEY-----`).
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OPENSSL = 'openssl';

/** True when the `openssl` CLI can be run; use with `describe.skipIf(!haveOpenssl)`. */
export const haveOpenssl: boolean = (() => {
  const result = spawnSync(OPENSSL, ['version'], { stdio: 'ignore', timeout: 5_000 });
  return result.status === 0;
})();

export const opensslMissingMessage = 'openssl not installed: apt-get install -y openssl';

export interface PemPair {
  cert: string;
  key: string;
}

export interface TestCertificates {
  dir: string;
  ca: PemPair;
  server: PemPair;
  client: PemPair & { subjectDn: string };
  selfSignedClient: PemPair;
}

let cached: Promise<TestCertificates> | undefined;

/** Generates (once per process) and returns the test CA, server and client certificates. */
export function getTestCertificates(): Promise<TestCertificates> {
  cached ??= generate().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

/** base64url(SHA-256(DER)) of a PEM certificate: the `x5t#S256` confirmation (RFC 8705 3.1). */
export function certificateThumbprint(pem: string): string {
  const der = Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64');
  return createHash('sha256').update(der).digest('base64url');
}

function openssl(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(OPENSSL, args, { cwd, timeout: 15_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`openssl ${args[0]} failed: ${stderr.trim() || error.message}`));
        return;
      }
      resolve(stdout);
    });
  });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function serial(): string {
  // Positive 64-bit serial; distinct per certificate.
  return `0x${(randomBytes(8)[0]! & 0x7f).toString(16).padStart(2, '0')}${randomBytes(7).toString('hex')}`;
}

async function signedLeaf(dir: string, name: string, subject: string, extensions: string): Promise<PemPair> {
  await openssl(
    ['req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject],
    dir,
  );
  writeFileSync(join(dir, `${name}.ext`), extensions);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      serial(),
      '-days',
      '2',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
  return read(dir, name);
}

function read(dir: string, name: string): PemPair {
  return {
    cert: readFileSync(join(dir, `${name}.crt`), 'utf8'),
    key: readFileSync(join(dir, `${name}.key`), 'utf8'),
  };
}

async function generate(): Promise<TestCertificates> {
  if (!haveOpenssl) throw new Error(opensslMissingMessage);
  const dir = mkdtempSync(join(tmpdir(), 'm2m-token-certs-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

  await openssl(
    [
      'req',
      '-x509',
      ...EC_KEY,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-sha256',
      '-subj',
      '/O=m2m-token tests/CN=m2m-token test CA',
      '-set_serial',
      serial(),
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );

  const [server, client] = await Promise.all([
    signedLeaf(
      dir,
      'server',
      '/CN=localhost',
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
        '',
      ].join('\n'),
    ),
    signedLeaf(
      dir,
      'client',
      '/O=m2m-token tests/CN=m2m-token test client',
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=clientAuth',
        '',
      ].join('\n'),
    ),
    openssl(
      [
        'req',
        '-x509',
        ...EC_KEY,
        '-keyout',
        'self-signed-client.key',
        '-out',
        'self-signed-client.crt',
        '-days',
        '2',
        '-sha256',
        '-subj',
        '/CN=m2m-token self-signed client',
        '-set_serial',
        serial(),
        '-addext',
        'extendedKeyUsage=clientAuth',
      ],
      dir,
    ),
  ]);

  // RFC 8705 2.1.2: tls_client_auth_subject_dn is the RFC 4514 string representation of the DN.
  const subjectLine = await openssl(
    ['x509', '-in', 'client.crt', '-noout', '-subject', '-nameopt', 'RFC2253'],
    dir,
  );
  const subjectDn = subjectLine.trim().replace(/^subject=\s*/, '');

  return {
    dir,
    ca: read(dir, 'ca'),
    server,
    client: { ...client, subjectDn },
    selfSignedClient: read(dir, 'self-signed-client'),
  };
}
