// `pnpm test` runs every package's tests in one Jest run, so there is one summary at the end.
module.exports = {
  projects: [
    "<rootDir>/packages/shared",
    "<rootDir>/apps/gateway",
    "<rootDir>/apps/booking",
    "<rootDir>/tests/system",
    "<rootDir>/tests/browser",
  ],
  reporters: ["default", "<rootDir>/scripts/jest-summary-reporter.js"],
  // a global option: Jest ignores it inside a project's config
  testTimeout: 30000,
};
