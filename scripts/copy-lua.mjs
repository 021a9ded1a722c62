// Copies the .lua scripts next to the compiled JavaScript (tsc copies only .ts).
import { cpSync, readdirSync, statSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [from, to] = process.argv.slice(2);
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith(".lua")) {
      const target = join(to, path.slice(from.length));
      mkdirSync(join(target, ".."), { recursive: true });
      cpSync(path, target);
    }
  }
}
walk(from);
