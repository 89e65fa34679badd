// Bundles the dashboard: node build.cjs SRC_DIR OUT_DIR (run by web/CMakeLists.txt with
// NODE_PATH pointing at the build directory's node_modules).
// SRC_DIR/main.tsx (and the CSS it imports) -> OUT_DIR/app.js + app.css, minified, for the
// browsers of the last few years; index.html and icon.svg are copied as they are.
'use strict';
const path = require('path');
const fs = require('fs');
const esbuild = require('esbuild');

const [src, out] = process.argv.slice(2);
if (!src || !out) {
  console.error('usage: node build.cjs SRC_DIR OUT_DIR');
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });
esbuild
  .build({
    entryPoints: { app: path.join(src, 'main.tsx') },
    outdir: out,
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    nodePaths: (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean),
    legalComments: 'none',
    logLevel: 'warning',
  })
  .then(() => {
    for (const f of ['index.html', 'icon.svg']) fs.copyFileSync(path.join(src, f), path.join(out, f));
  })
  .catch(() => process.exit(1));
