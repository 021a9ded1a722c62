// `pnpm test` runs every package's tests in one Jest run, so there is one summary at the end.
module.exports = {
  projects: ["<rootDir>/packages/shared", "<rootDir>/apps/gateway", "<rootDir>/apps/booking"],
  reporters: ["default", "<rootDir>/scripts/jest-summary-reporter.js"],
};
