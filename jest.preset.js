// One Jest preset for every package: ts-jest (CommonJS), tests under test/.
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.json", diagnostics: { warnOnly: false } }],
    // jose 6 is ESM only: Node (20.19+) requires it natively, Jest's CommonJS runtime does not, so
    // its files are compiled to CommonJS for the tests (and only for the tests)
    "/jose/dist/.+\\.js$": ["ts-jest", { tsconfig: { allowJs: true, module: "commonjs", target: "es2022" }, diagnostics: false }],
  },
  transformIgnorePatterns: ["/node_modules/(?!(\\.pnpm/jose@|jose/))"],
};
