module.exports = { ...require("../../jest.preset"), displayName: "test-support" };
