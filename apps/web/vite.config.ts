import { defineConfig } from "vite";

// The page is served by the gateway (express.static of dist/), so API calls are same-origin.
// `pnpm --filter @concert/web dev` proxies /api to a gateway on :3000.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, target: "es2020", sourcemap: false },
  server: { proxy: { "/api": "http://127.0.0.1:3000" } },
});
