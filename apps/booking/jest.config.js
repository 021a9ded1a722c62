module.exports = {
  ...require("../../jest.preset"),
  displayName: "booking",
  // a fresh database per run, migrated with scripts/migrate.mjs; dropped afterwards
  globalSetup: "<rootDir>/test/global-setup.ts",
  globalTeardown: "<rootDir>/test/global-teardown.ts",
};
