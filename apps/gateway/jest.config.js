const preset = require("../../jest.preset");

// jose 6 is ESM only: Node (20.19+) requires it natively, Jest's CommonJS runtime does not, so its
// files are compiled to CommonJS for the tests (and only for the tests).
module.exports = {
  ...preset,
  displayName: "gateway",
  transform: {
    ...preset.transform,
    "/jose/dist/.+\\.js$": ["ts-jest", { tsconfig: { allowJs: true, module: "commonjs", target: "es2022" }, diagnostics: false }],
  },
  transformIgnorePatterns: ["/node_modules/(?!(\\.pnpm/jose@|jose/))"],
};
