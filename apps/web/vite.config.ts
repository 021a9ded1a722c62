import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const page = (file: string) => fileURLToPath(new URL(file, import.meta.url));

// The page is served by the gateway (express.static of dist/), so API calls are same-origin.
// `pnpm --filter @concert/web dev` proxies /api to a gateway on :3000.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    sourcemap: false,
    // the waiting room at / and the operator console at /console (both served by the gateway)
    rollupOptions: { input: { main: page("index.html"), console: page("console.html") } },
  },
  server: { proxy: { "/api": "http://127.0.0.1:3000", "/admin": "http://127.0.0.1:3000" } },
});
