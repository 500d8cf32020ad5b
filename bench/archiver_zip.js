// The zip that actions/upload-artifact makes: Node's archiver at level 6.
// Usage: node archiver_zip.js SOURCE_DIR OUTPUT.zip
const fs = require("fs");
const archiver = require("archiver");

const [source, output] = process.argv.slice(2);
const out = fs.createWriteStream(output);
const archive = archiver("zip", { zlib: { level: 6 } });
out.on("close", () => process.exit(0));
archive.on("error", (err) => {
  console.error(err);
  process.exit(1);
});
archive.pipe(out);
archive.directory(source, false);
archive.finalize();
