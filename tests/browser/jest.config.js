// Browser tests: the waiting-room page in Debian's Chromium (playwright-core) against real gateway
// and booking processes. They fail, never skip, when /usr/bin/chromium is missing (.ci/run installs it).
module.exports = { ...require("../../jest.preset"), displayName: "browser" };
