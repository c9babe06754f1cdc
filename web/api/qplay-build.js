// Which WebAssembly build of QPlay to load, decided once when a page starts, for the app's page
// (web/app/index.html) and the JavaScript module (qplay.js). There are three builds (CMakePresets.json):
//   threads  SIMD128 and up to MAX_THREADS kernel threads (Emscripten pthreads). It needs
//            SharedArrayBuffer, which a browser gives only a cross-origin isolated page: one served
//            with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
//            require-corp (tools/serve.sh sends them), or Chrome's Document-Isolation-Policy.
//   simd     SIMD128 on one thread: the default, what every current browser runs.
//   nosimd   the plain C++ kernels, for browsers without WebAssembly SIMD (Safari before 16.4).
// chooseBuilds() lists the builds this browser can run, best first; a loader tries them in order, so a
// server without the headers, or a host that lacks the extra builds' files, falls back silently.

// The threaded build's preloaded workers plus the page's own thread (CMakeLists.txt:
// QPLAY_WASM_THREAD_POOL_SIZE + 1); the engine caps a larger count to it as well.
export const MAX_THREADS = 4;

// A minimal module with one SIMD instruction (i8x16.popcnt): valid only where WebAssembly SIMD is.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0,
                                   65, 0, 253, 15, 253, 98, 11]);

// [{name, suffix, threads}], best first: suffix is what the build adds to its file names
// (qplay-core-threads.js, qplay-app-nosimd.wasm). Empty when the browser has no WebAssembly at all.
// scope: the global object to read (a test passes a stand-in).
export function chooseBuilds(scope = globalThis) {
  const wasm = scope.WebAssembly;
  if (typeof wasm !== 'object' || wasm === null) return [];
  if (!wasm.validate(SIMD_PROBE)) return [{name: 'nosimd', suffix: '-nosimd', threads: 1}];
  const builds = [{name: 'simd', suffix: '', threads: 1}];
  const cores = Number(scope.navigator?.hardwareConcurrency) || 1;
  if (scope.crossOriginIsolated === true && typeof scope.SharedArrayBuffer === 'function' && cores >= 2) {
    builds.unshift({name: 'threads', suffix: '-threads', threads: Math.min(cores, MAX_THREADS)});
  }
  return builds;
}
