/** The parts of jose m2m-token uses, loaded together on first use (see ./jose.ts). */
export {
  CompactSign,
  compactVerify,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  SignJWT,
} from 'jose';
