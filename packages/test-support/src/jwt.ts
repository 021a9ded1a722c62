// The test's identity provider for the gateway's AUTH_MODE=jwt: keys generated at test time with
// jose, tokens minted with them, and a JWKS endpoint on loopback (node:http) the test controls.
import { createServer, type Server } from "node:http";
import { listenLoopback } from "./loopback";
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload } from "jose";

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

export const ISSUER = "https://idp.test/";
export const AUDIENCE = "concert-api";

/** A signing key of the test's identity provider: its private half, and its public JWK (with kid and alg). */
export interface TestKey {
  kid: string;
  alg: string;
  privateKey: PrivateKey;
  jwk: JWK;
  spki: string;
}

export async function testKey(kid: string, alg = "RS256"): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" }, spki: await exportSPKI(publicKey) };
}

/** A token of the test's identity provider for `sub`, valid for an hour unless `claims`/`header` say otherwise. */
export function mint(key: TestKey, sub: unknown, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    sub,
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now,
    exp: now + 3600,
    jti: Math.random().toString(36).slice(2),
    ...claims,
  } as JWTPayload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.privateKey);
}

export const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

/** The identity provider's JWKS endpoint on loopback: the keys it publishes, whether it answers, how often it was asked. */
export interface JwksServer {
  url: string;
  keys: TestKey[];
  up: boolean;
  fetches: number;
  close(): Promise<void>;
}

export async function startJwks(keys: TestKey[]): Promise<JwksServer> {
  const state = { keys, up: true, fetches: 0 };
  const server: Server = createServer((req, res) => {
    state.fetches++;
    if (!state.up) {
      req.socket.destroy(); // down: the connection drops
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: state.keys.map((k) => k.jwk) }));
  });
  const http = await listenLoopback(server);
  return Object.assign(state, { url: `${http.url}/.well-known/jwks.json`, close: () => http.close() });
}

/** The gateway's environment for AUTH_MODE=jwt against `jwks`. */
export const jwtEnv = (jwks: { url: string }, extra: Record<string, string> = {}) => ({
  AUTH_MODE: "jwt",
  AUTH_JWKS_URL: jwks.url,
  AUTH_ISSUER: ISSUER,
  AUTH_AUDIENCE: AUDIENCE,
  ...extra,
});
