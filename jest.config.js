// `pnpm test` runs every package's tests in one Jest run, so there is one summary at the end.
module.exports = {
  projects: [
    "<rootDir>/packages/shared",
    "<rootDir>/packages/test-support",
    "<rootDir>/apps/gateway",
    "<rootDir>/apps/booking",
    "<rootDir>/tests/system",
    "<rootDir>/tests/browser",
  ],
  reporters: ["default", "<rootDir>/scripts/jest-summary-reporter.js"],
  // The one default timeout: a global option, which Jest ignores inside a project's config (so
  // none sets it); a test or hook that needs longer passes its own, as the system tests do.
  testTimeout: 30000,
};
