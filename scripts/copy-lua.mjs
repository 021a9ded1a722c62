// Copies the .lua scripts next to the compiled JavaScript (tsc copies only .ts), and removes .lua
// files left in the target by scripts since renamed or deleted (so dist holds only what src declares).
import { cpSync, existsSync, readdirSync, rmSync, statSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [from, to] = process.argv.slice(2);
function walk(dir, visit) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, visit);
    else if (name.endsWith(".lua")) visit(path);
  }
}
walk(to, (path) => {
  if (!existsSync(join(from, path.slice(to.length)))) rmSync(path);
});
walk(from, (path) => {
  const target = join(to, path.slice(from.length));
  mkdirSync(join(target, ".."), { recursive: true });
  cpSync(path, target);
});
