// A static file server for the browser build (build/wasm/web), as a web host would serve it: the right
// MIME types (.wasm as application/wasm, which streaming compilation needs) and gzip for every text and
// WebAssembly file a browser accepts it for, compressed once and kept. Used by tools/serve.sh, the
// browser tests and the browser benchmark.
//
//   import {serveStatic} from './static_server.mjs';
//   const server = await serveStatic('build/wasm/web', {port: 0});   // port 0: any free port
//   server.origin   // 'http://127.0.0.1:41234'
//   server.close();
//
// options.route(urlPath, searchParams) may answer a path itself with HTML text (test pages), or null.
// options.isolated: send the headers that make a page cross-origin isolated (CROSS_ORIGIN_ISOLATION), so
// QPlay's pages load its threaded build; without them they load the single-threaded one.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.data': 'application/octet-stream',
  '.json': 'application/json', '.ts': 'text/plain; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ttf': 'font/ttf',
};
// What a host sends to let pages use SharedArrayBuffer, which the threaded WebAssembly build needs:
// COOP + COEP (every current browser), and Chrome's Document-Isolation-Policy, which isolates one
// document without asking the same of the pages it opens. CORP `cross-origin` lets an isolated page of
// another site embed these files (its COEP asks every resource to allow it).
export const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Document-Isolation-Policy': 'isolate-and-require-corp',
  'Cross-Origin-Resource-Policy': 'cross-origin',
};
// Files without an extension are the data pack's IDX images and labels: bytes, which compress well too.
const DEFAULT_TYPE = 'application/octet-stream';
const ALREADY_COMPRESSED = new Set(['.png']);

export async function serveStatic(rootDir, {port = 0, host = '127.0.0.1', route = null, isolated = false} = {}) {
  const isolation = isolated ? CROSS_ORIGIN_ISOLATION : {};
  const root = path.resolve(rootDir);
  const compressed = new Map();  // file -> {mtimeMs, bytes}
  function gzipped(file, stat) {
    const known = compressed.get(file);
    if (known && known.mtimeMs === stat.mtimeMs) return known.bytes;
    const bytes = zlib.gzipSync(fs.readFileSync(file), {level: 9});
    compressed.set(file, {mtimeMs: stat.mtimeMs, bytes});
    return bytes;
  }
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://localhost');
    let urlPath;
    try {
      urlPath = decodeURIComponent(url.pathname);
    } catch {
      response.writeHead(400).end('bad path');
      return;
    }
    if (route) {
      const html = route(urlPath, url.searchParams);
      if (html !== null && html !== undefined) {
        response.writeHead(200, {'Content-Type': MIME_TYPES['.html'], ...isolation}).end(html);
        return;
      }
    }
    const file = path.resolve(root, '.' + path.posix.normalize(urlPath.endsWith('/') ? urlPath + 'index.html' : urlPath));
    let stat = null;
    try {
      stat = fs.statSync(file);
    } catch {}
    if (!file.startsWith(root + path.sep) || !stat || !stat.isFile()) {
      response.writeHead(404, {'Content-Type': 'text/plain'}).end('not found');
      return;
    }
    const extension = path.extname(file);
    const headers = {'Content-Type': MIME_TYPES[extension] || DEFAULT_TYPE, 'Cache-Control': 'no-cache', ...isolation};
    const acceptsGzip = /\bgzip\b/.test(request.headers['accept-encoding'] || '');
    let bytes;
    if (acceptsGzip && !ALREADY_COMPRESSED.has(extension)) {
      bytes = gzipped(file, stat);
      headers['Content-Encoding'] = 'gzip';
      headers['Vary'] = 'Accept-Encoding';
      // What the page will count as it reads (decompressed bytes), for its progress bars.
      headers['X-Decoded-Length'] = stat.size;
    } else {
      bytes = fs.readFileSync(file);
    }
    headers['Content-Length'] = bytes.length;
    response.writeHead(200, headers);
    response.end(request.method === 'HEAD' ? undefined : bytes);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    origin: `http://${host}:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
    server,
  };
}

// As a program: node tools/web/static_server.mjs DIR [PORT] [--isolated]
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const isolated = args.includes('--isolated');
  const [dir, port = '8000'] = args.filter((arg) => arg !== '--isolated');
  if (!dir || port.startsWith('-')) {
    console.error('usage: node static_server.mjs DIR [PORT] [--isolated]');
    process.exit(2);
  }
  const {origin} = await serveStatic(dir, {port: Number(port), isolated});
  const headers = isolated ? 'cross-origin isolated: COOP, COEP, Document-Isolation-Policy' : 'not isolated';
  console.log(`serving ${path.resolve(dir)} at ${origin}/ (gzip; ${headers}; Ctrl-C stops)`);
}
