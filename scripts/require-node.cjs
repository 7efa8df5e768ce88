// npm scripts run on the Node 24 that `npm ci` installs as the optional `node` package (first on their
// PATH), whatever the system Node is. If that install was skipped, say so instead of failing later.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `Node ${process.version}: this project runs on Node 24 LTS. Run \`npm ci\` (it installs Node 24 for npm scripts) or install Node 24.`,
  );
  process.exit(1);
}
console.log(`Node ${process.version}`);
