// Prisma 7 configuration: schema, migrations folder and the datasource URL (which no longer
// lives in schema.prisma). Used by the Prisma CLI (`prisma generate`, and `prisma migrate deploy`
// where its schema-engine binary can be downloaded). On this machine migrations are applied by
// scripts/migrate.mjs through the WebAssembly schema engine instead; both share prisma/migrations.
import { defineConfig } from "prisma/config";
// the source, not the build: `prisma generate` reads this file while booking is being built
import { DEFAULT_DATABASE_URL } from "./packages/shared/src/defaults";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: {
    path: "prisma/migrations",
    seed: "node apps/booking/dist/db/seed-main.js",
  },
  datasource: {
    url: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
  },
});
