module.exports = { ...require("../../jest.preset"), displayName: "shared" };
