// Browser test of the three ways to embed QPlay (docs/embedding.md): the <qplay-playground> element,
// the app in an iframe driven by postMessage, and the lesson pages (web/examples) built on them and on
// the headless module. It serves the built site (build/wasm/web: /app/, /api/, /examples/) plus a few
// test pages generated here under /test/, and a second server on another port (another origin) for the
// origin rule. Debian's chromium runs headless through playwright-core (SwiftShader WebGL 2). Run by
// ctest in the wasm build; by hand:
//
//   node tests/web/embedding_test.mjs build/wasm/web [screenshot dir]
//
// Exit code 0 when every check passes, 1 otherwise (each failure is printed).
import fs from 'node:fs';
import path from 'node:path';

import {serveStatic} from '../../tools/web/static_server.mjs';

const CHROMIUM = process.env.QPLAY_CHROMIUM || '/usr/bin/chromium';
const VIEWPORT = {width: 1100, height: 760};
const APP_TIMEOUT = 60000;  // an app instance loads, compiles and draws its first frame well within this
const EVENT_TIMEOUT = 20000;
const LESSONS = ['index.html', 'what-quantization-does.html', 'why-4-bits-breaks.html',
                 'dropbits-and-learned-bits.html', 'chart-it-yourself.html', 'mixed-precision.html'];

const [webDir, screenshotDir] = process.argv.slice(2);
if (!webDir) {
  console.error('usage: node embedding_test.mjs <build>/web [screenshot dir]');
  process.exit(2);
}

let playwright;
try {
  playwright = await import('playwright-core');
} catch (error) {
  console.error(`embedding: playwright-core is not installed (${error.message}); run tools/setup.sh (npm ci)`);
  process.exit(1);
}
const needed = [CHROMIUM, 'app/index.html', 'app/qplay-app.wasm', 'api/qplay-element.js', 'api/qplay.js',
                'api/qplay-core.wasm', ...LESSONS.map((name) => `examples/${name}`)];
for (const file of needed) {
  const full = path.isAbsolute(file) ? file : path.join(webDir, file);
  if (!fs.existsSync(full)) {
    console.error(`embedding: ${full} is missing (run tools/setup.sh, and build the wasm preset)`);
    process.exit(1);
  }
}
if (screenshotDir) fs.mkdirSync(screenshotDir, {recursive: true});

// ---- Test pages ------------------------------------------------------------------------------------
// Every page logs what it hears: element events in window.events, iframe messages in window.messages.
const LOG_ELEMENT_EVENTS = `<script>
  window.events = [];
  for (const type of ['qplay-ready', 'qplay-state', 'qplay-metrics', 'qplay-error']) {
    document.addEventListener(type, (event) => window.events.push({id: event.target.id, type, detail: event.detail}));
  }
</script>`;
const LOG_MESSAGES = `<script>
  window.messages = [];
  addEventListener('message', (event) => {
    const frame = document.getElementById('app');
    if (frame && event.source === frame.contentWindow) window.messages.push(event.data);
  });
</script>`;

function testPage(name, query, origin, otherOrigin) {
  const page = (body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${name}</title>
    <link rel="icon" href="data:,"></head><body>${body}</body></html>`;
  const appHash = query.get('hash') || '';
  switch (name) {
    case 'element.html':  // one element; the test adds and removes more
      return page(`${LOG_ELEMENT_EVENTS}
        <script type="module" src="${origin}/api/qplay-element.js"></script>
        <qplay-playground id="a" dataset="moons" bits="3" hide="setup" style="height: 480px"></qplay-playground>`);
    case 'two.html':  // two elements, independent
      return page(`${LOG_ELEMENT_EVENTS}
        <script type="module" src="${origin}/api/qplay-element.js"></script>
        <qplay-playground id="one" dataset="circles" bits="5" style="height: 340px"></qplay-playground>
        <qplay-playground id="two" dataset="xor" bits="6" style="height: 340px"></qplay-playground>`);
    case 'iframe.html': {  // the app in an iframe of this origin, and a frame of the other origin beside it
      const sibling = query.get('sibling') ? `<iframe id="sibling" src="${otherOrigin}/test/blank.html"></iframe>` : '';
      return page(`${LOG_MESSAGES}
        <iframe id="app" style="width: 900px; height: 520px; border: 0" src="${origin}/app/index.html#${appHash}"></iframe>
        ${sibling}`);
    }
    case 'cross.html': {  // served by the other origin: it embeds the app of the first one
      const policy = query.get('referrer') ? ` referrerpolicy="${query.get('referrer')}"` : '';
      return page(`${LOG_MESSAGES}
        <iframe id="app"${policy} style="width: 900px; height: 520px; border: 0" src="${otherOrigin}/app/index.html#${appHash}"></iframe>`);
    }
    case 'blank.html':
      return page('<p>another origin</p>');
  }
  return null;
}

// ---- Two static servers: the site (+ test pages), and a second origin with test pages only ---------
const origins = {};
async function startServer(name) {
  const served = await serveStatic(webDir, {
    route: (urlPath, searchParams) => {
      if (!urlPath.startsWith('/test/')) return null;
      const otherOrigin = name === 'site' ? origins.other : origins.site;
      return testPage(urlPath.slice(6), searchParams, origins[name], otherOrigin);
    },
  });
  origins[name] = served.origin;
  return served;
}
const servers = [await startServer('site'), await startServer('other')];
const site = origins.site, other = origins.other;

// ---- Checks ----------------------------------------------------------------------------------------
const failures = [];
function check(condition, message) {
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${message}`);
  if (!condition) failures.push(message);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

const browser = await playwright.chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// A page that records its console (every frame's) and uncaught errors.
async function openPage(url) {
  const page = await browser.newPage({viewport: VIEWPORT});
  const log = {errors: [], warnings: []};
  page.on('console', (message) => {
    const text = message.text();
    if (/favicon/.test(text) || /favicon/.test(message.location().url || '')) return;
    if (message.type() === 'error') log.errors.push(text);
    if (message.type() === 'warning') log.warnings.push(text);
  });
  page.on('pageerror', (error) => log.errors.push(`uncaught: ${error.message}`));
  await page.goto(url);
  return {page, log};
}
// Waits until the page's event log has an entry the predicate (run in the page) accepts; returns it.
async function waitForEntry(page, list, predicate, argument, timeout = EVENT_TIMEOUT) {
  const handle = await page.waitForFunction(
      ({list, source, argument}) => {
        const test = new Function('entry', 'argument', `return (${source})(entry, argument);`);
        return (window[list] || []).find((entry) => test(entry, argument)) || false;
      },
      {list, source: predicate.toString(), argument}, {timeout, polling: 100});
  return handle.jsonValue();
}
async function tryWait(promise) {
  try {
    return await promise;
  } catch {
    return null;
  }
}
// The app's own frame inside a page (the element's iframe lives in a shadow root, frames see it all).
function appFrames(page) {
  return page.frames().filter((frame) => frame.url().includes('/app/index.html'));
}
async function framesDrawn(frame) {
  return frame.evaluate(() => (window.Module?.calledRun ? Module._qplay_app_frames_drawn() : 0));
}
async function shoot(page, name) {
  if (screenshotDir) await page.screenshot({path: path.join(screenshotDir, name), fullPage: true});
}

// The mixed-precision lesson: its answers start closed; once the network is trained its buttons drive the
// element (layer bits, a budget), and the read-out under it repeats the element's numbers after each.
async function checkMixedPrecisionLesson(page) {
  const what = [];
  const details = await page.evaluate(() => [...document.querySelectorAll('details')].map((d) => d.open));
  const closed = details.length >= 5 && details.every((open) => !open);
  what.push(`${details.length} answers, ${closed ? 'all closed' : 'some open'}`);
  const trained = await tryWait(page.waitForFunction(
      () => !document.querySelector('[data-method="measured"]').disabled, null, {timeout: APP_TIMEOUT})) !== null;
  what.push(trained ? 'buttons woke when trained' : 'buttons never woke');
  // The read-out against the element's last metrics, once those are of the current setting.
  const readoutAfter = async (selector, bits) => {
    await page.click(selector);
    const matched = await tryWait(page.waitForFunction((bits) => {
      const metrics = document.getElementById('playground').metrics;
      const run = metrics?.runs[0], size = metrics?.model_size;
      if (!run?.current.current || size.weight_bits_per_layer.join(',') !== (bits ?? size.weight_bits_per_layer.join(','))) return false;
      const number = (id) => parseFloat(document.getElementById(id).textContent);
      const shown = {accuracy: number('accuracy'), kilobytes: number('size'), average: number('average-bits'),
                     layers: document.getElementById('layer-bits').textContent};
      const agrees = Math.abs(shown.accuracy - 100 * run.current.accuracy) < 0.051 &&
                     Math.abs(shown.kilobytes - size.kilobytes) < 0.0051 &&
                     Math.abs(shown.average - size.average_weight_bits) < 0.0051 &&
                     shown.layers === size.weight_bits_per_layer.join(', ');
      return agrees && {...shown, state: document.getElementById('playground').state};
    }, bits, {timeout: EVENT_TIMEOUT}));
    return matched ? await matched.jsonValue() : null;
  };
  const even = trained ? await readoutAfter('[data-layers="4,4,4"]', '4,4,4') : null;
  const middle = trained ? await readoutAfter('[data-layers="4,2,4"]', '4,2,4') : null;
  const layersPassed = even !== null && middle !== null && /layer_weight_bits=4(%2C|,)2(%2C|,)4/.test(middle.state) &&
                       middle.kilobytes < even.kilobytes;
  what.push(`4, 4, 4 then 4, 2, 4: read-out ${JSON.stringify(even)} then ${JSON.stringify(middle)}`);
  // The lesson's answers: measured chooses 3, 2, 3 within the budget and beats uniform, which falls to 2 bits.
  const measured = trained ? await readoutAfter('[data-method="measured"]', '3,2,3') : null;
  const uniform = trained ? await readoutAfter('[data-method="uniform"]', '2,2,2') : null;
  const budgetPassed = measured !== null && uniform !== null && measured.average <= 2.5 &&
                       measured.accuracy > uniform.accuracy;
  what.push(`measured ${JSON.stringify(measured)}, uniform ${JSON.stringify(uniform)}`);
  return {passed: closed && trained && layersPassed && budgetPassed, what: what.join('; ')};
}

try {
  // ==== 1. <qplay-playground> ========================================================================
  {
    const {page, log} = await openPage(`${site}/test/element.html`);
    check(await tryWait(waitForEntry(page, 'events', (e) => e.id === 'a' && e.type === 'qplay-ready', null, APP_TIMEOUT)) !== null,
          `element: qplay-ready fired (${elapsed()})`);
    const first = await tryWait(waitForEntry(page, 'events', (e) => e.id === 'a' && e.type === 'qplay-state'));
    const hash = first ? first.detail.hash : '';
    check(/(^|&)dataset=moons(&|$)/.test(hash) && /(^|&)weight_bits=3(&|$)/.test(hash) && /(^|&)setup_hide=1(&|$)/.test(hash),
          `element: qplay-state from the attributes has dataset=moons, weight_bits=3, setup_hide=1 ('${hash}')`);
    check(await page.evaluate(() => document.getElementById('a').state) === hash, 'element: .state is the last hash');

    await page.evaluate(() => document.getElementById('a').setAttribute('bits', '5'));
    const five = await tryWait(waitForEntry(page, 'events',
        (e) => e.id === 'a' && e.type === 'qplay-state' && /(^|&)weight_bits=5(&|$)/.test(e.detail.hash)));
    check(five !== null && /dataset=moons/.test(five.detail.hash), 'element: bits="5" gives a qplay-state with weight_bits=5');

    const metrics = await tryWait(waitForEntry(page, 'events',
        (e) => e.id === 'a' && e.type === 'qplay-metrics' && Array.isArray(e.detail.metrics.runs) && e.detail.metrics.runs.length > 0));
    check(metrics !== null && metrics.detail.metrics.dataset === 'moons',
          `element: qplay-metrics fired with runs (${metrics ? metrics.detail.metrics.runs.map((r) => r.method).join(',') : 'none'})`);
    check(await page.evaluate(() => document.getElementById('a').metrics?.runs?.length > 0), 'element: .metrics holds the last numbers');

    // A bad value: a console warning and qplay-error, the playground keeps going.
    await page.evaluate(() => document.getElementById('a').setAttribute('dataset', 'nope'));
    const error = await tryWait(waitForEntry(page, 'events', (e) => e.id === 'a' && e.type === 'qplay-error'));
    check(error !== null && /dataset/.test(error.detail.message), `element: dataset="nope" fires qplay-error ('${error?.detail.message}')`);
    check(log.warnings.some((w) => w.includes('<qplay-playground>') && w.includes('nope')),
          'element: and prints a console warning');
    await page.evaluate(() => {
      const element = document.getElementById('a');
      element.setAttribute('dataset', 'moons');  // the attributes say what the playground has again
      element.setAttribute('bits', '5');
    });
    const after = await tryWait(waitForEntry(page, 'events',
        (e) => e.id === 'a' && e.type === 'qplay-state' && /(^|&)weight_bits=5(&|$)/.test(e.detail.hash)));
    check(after !== null && /dataset=moons/.test(after.detail.hash) && !/nope/.test(after.detail.hash),
          'element: after the bad value it still works (bits="5", dataset still moons)');
    // Removing an attribute brings its default back (the default bits, 4, are not in the hash).
    await page.evaluate(() => document.getElementById('a').removeAttribute('bits'));
    const removed = await tryWait(waitForEntry(page, 'events',
        (e) => e.id === 'a' && e.type === 'qplay-state' && !/weight_bits=/.test(e.detail.hash) && /dataset=moons/.test(e.detail.hash)));
    check(removed !== null, 'element: removing bits="..." brings back the default bit-width');

    // Bits under a budget through the element: they come back as the state's layer_weight_bits; a budget
    // below 2 bits per weight is refused with a message.
    await page.evaluate(() => document.getElementById('a').allocate({budgetBits: 3, method: 'uniform'}));
    const allocated = await tryWait(waitForEntry(page, 'events',
        (e) => e.id === 'a' && e.type === 'qplay-state' && /(^|&)layer_weight_bits=3(%2C|,)3(%2C|,)3(&|$)/.test(e.detail.hash)));
    check(allocated !== null, `element: allocate({budgetBits: 3, method: 'uniform'}) sets 3 bits in every layer ('${allocated?.detail.hash}')`);
    await page.evaluate(() => document.getElementById('a').allocate({budgetBits: 1}));
    const tooSmall = await tryWait(waitForEntry(page, 'events',
        (e) => e.id === 'a' && e.type === 'qplay-error' && /allocate/.test(e.detail.message)));
    check(tooSmall !== null, `element: allocate({budgetBits: 1}) fires qplay-error ('${tooSmall?.detail.message}')`);

    // An element created by script with a bad attribute, and set() called before it is ready.
    await page.evaluate(() => {
      const element = document.createElement('qplay-playground');
      element.id = 'b';
      element.setAttribute('dataset', 'nope');
      element.setAttribute('methods', 'baseline');
      element.style.height = '300px';
      document.body.appendChild(element);
      element.set('seed', 7);  // waits for the app
    });
    check(await tryWait(waitForEntry(page, 'events', (e) => e.id === 'b' && e.type === 'qplay-ready', null, APP_TIMEOUT)) !== null,
          'element: a second element added by script gets ready');
    const badStart = await tryWait(waitForEntry(page, 'events', (e) => e.id === 'b' && e.type === 'qplay-error'));
    check(badStart !== null && /nope/.test(badStart.detail.message),
          `element: dataset="nope" from the start reports qplay-error ('${badStart?.detail.message}')`);
    const seeded = await tryWait(waitForEntry(page, 'events',
        (e) => e.id === 'b' && e.type === 'qplay-state' && /(^|&)seed=7(&|$)/.test(e.detail.hash)));
    check(seeded !== null && !/nope/.test(seeded.detail.hash),
          `element: set() before ready waits for the app, and the bad dataset kept its default ('${seeded?.detail.hash}')`);
    await shoot(page, 'embedding-element.png');

    // Removal: the iframes go, and nothing is heard from them again. (window.frames does not count
    // iframes in shadow roots; playwright's frame tree does.)
    const framesBefore = appFrames(page).length;
    await page.evaluate(() => {
      window.removed = [...document.querySelectorAll('qplay-playground')];
      for (const element of window.removed) element.remove();
      window.eventsAtRemoval = window.events.length;
    });
    await sleep(1500);
    const gone = await page.evaluate(() => ({
      shadowFrames: window.removed.reduce((n, e) => n + e.shadowRoot.querySelectorAll('iframe').length, 0),
      documentFrames: document.querySelectorAll('iframe').length,
      newEvents: window.events.length - window.eventsAtRemoval,
    }));
    const framesAfter = appFrames(page).length;
    check(framesBefore === 2 && gone.shadowFrames === 0 && gone.documentFrames === 0 && framesAfter === 0,
          `element: removing the elements removes their iframes (${framesBefore} app frames before, ${framesAfter} after)`);
    check(gone.newEvents === 0, `element: no events after removal (${gone.newEvents})`);
    check(log.errors.length === 0, `element: no console errors${log.errors.length ? ': ' + log.errors.join(' | ') : ''}`);
    await page.close();
  }

  // ==== 2. Two elements on one page ==================================================================
  {
    const {page, log} = await openPage(`${site}/test/two.html`);
    for (const id of ['one', 'two']) {
      check(await tryWait(waitForEntry(page, 'events', (e, id) => e.id === id && e.type === 'qplay-ready', id, APP_TIMEOUT)) !== null,
            `two elements: #${id} ready (${elapsed()})`);
    }
    const stateOf = (id, pattern) => tryWait(waitForEntry(page, 'events',
        (e, [id, pattern]) => e.id === id && e.type === 'qplay-state' && new RegExp(pattern).test(e.detail.hash), [id, pattern]));
    check(await stateOf('one', 'dataset=circles.*weight_bits=5') !== null && await stateOf('two', 'dataset=xor.*weight_bits=6') !== null,
          'two elements: each reports its own data set and bits');
    await page.evaluate(() => document.getElementById('one').setAttribute('bits', '4'));
    await page.evaluate(() => document.getElementById('two').set('weight_bits', 7));
    check(await stateOf('one', 'weight_bits=4') !== null && await stateOf('two', 'weight_bits=7') !== null,
          'two elements: a change to each reaches only that one');
    const crossed = await page.evaluate(() => window.events.filter((e) => e.type === 'qplay-state' &&
        ((e.id === 'one' && /xor|weight_bits=7/.test(e.detail.hash)) || (e.id === 'two' && /circles|weight_bits=4/.test(e.detail.hash)))).length);
    check(crossed === 0, 'two elements: neither heard the other');
    const states = await page.evaluate(() => [document.getElementById('one').state, document.getElementById('two').state]);
    check(/circles/.test(states[0]) && /weight_bits=4/.test(states[0]) && /xor/.test(states[1]) && /weight_bits=7/.test(states[1]),
          `two elements: .state of each (${states.join(' | ')})`);
    check(log.errors.length === 0, `two elements: no console errors${log.errors.length ? ': ' + log.errors.join(' | ') : ''}`);
    await page.close();
  }

  // ==== 3. The app in an iframe, driven with postMessage =============================================
  {
    const hash = encodeURIComponent('dataset=circles&setup_hide=1');
    const {page, log} = await openPage(`${site}/test/iframe.html?hash=${hash}&sibling=1`);
    const message = (predicate, argument, timeout) => tryWait(waitForEntry(page, 'messages', predicate, argument, timeout));
    const post = (data) => page.evaluate((data) => {
      const frame = document.getElementById('app');
      frame.contentWindow.postMessage(data, new URL(frame.src).origin);
    }, data);
    check(await message((m) => m.type === 'qplay:ready', null, APP_TIMEOUT) !== null, `iframe: qplay:ready (${elapsed()})`);
    const state = await message((m) => m.type === 'qplay:state');
    check(state !== null && /(^|&)dataset=circles(&|$)/.test(state.hash) && /setup_hide=1/.test(state.hash),
          `iframe: qplay:state with the link's data set ('${state?.hash}')`);

    await post({type: 'qplay:set', key: 'weight_bits', value: '5'});
    check(await message((m) => m.type === 'qplay:state' && /(^|&)weight_bits=5(&|$)/.test(m.hash)) !== null,
          'iframe: qplay:set weight_bits 5 gives a state with weight_bits=5');
    await page.evaluate(() => { window.messages = []; });
    await post({type: 'qplay:metrics'});
    const metrics = await message((m) => m.type === 'qplay:metrics');
    check(metrics !== null && metrics.metrics.runs.length > 0 && metrics.metrics.weight_bits === 5,
          'iframe: qplay:metrics answers with the numbers at 5 bits');
    await post({type: 'qplay:state', hash: 'dataset=xor&weight_bits=6&methods=baseline'});
    check(await message((m) => m.type === 'qplay:state' && /dataset=xor/.test(m.hash) && /weight_bits=6/.test(m.hash)) !== null,
          'iframe: qplay:state replaces the whole state');
    await post({type: 'qplay:set', key: 'learning_rate', value: 'fast'});
    check(await message((m) => m.type === 'qplay:error' && /learning_rate/.test(m.message)) !== null,
          'iframe: a refused setting answers qplay:error');
    await post({type: 'qplay:dance'});
    check(await message((m) => m.type === 'qplay:error' && /unknown command/.test(m.message)) !== null,
          'iframe: an unknown message type answers qplay:error');

    // Not from the parent: the app's own window, and a frame of another origin beside it.
    const app = appFrames(page)[0];
    await app.evaluate(() => window.postMessage({type: 'qplay:set', key: 'weight_bits', value: '7'}, '*'));
    const sibling = page.frames().find((frame) => frame.url().startsWith(other));
    await sibling.evaluate(() => window.parent.frames[0].postMessage({type: 'qplay:set', key: 'weight_bits', value: '8'}, '*'));
    await sleep(1500);
    const appHash = await app.evaluate(() => location.hash);
    const heard = await page.evaluate(() => window.messages.filter((m) => m.type === 'qplay:state' && /weight_bits=[78]/.test(m.hash)).length);
    check(/weight_bits=6/.test(appHash) && heard === 0,
          `iframe: messages from the app's own window and from a sibling frame are ignored ('${appHash}')`);
    check(log.errors.length === 0, `iframe: no console errors${log.errors.length ? ': ' + log.errors.join(' | ') : ''}`);
    await page.close();
  }

  // ==== 4. The origin rule: a page of another origin ==================================================
  {
    // With the browser's default referrer policy the app learns the embedding origin and obeys it.
    const hash = encodeURIComponent('dataset=moons&methods=baseline');
    const {page, log} = await openPage(`${other}/test/cross.html?hash=${hash}`);
    const message = (predicate, argument, timeout) => tryWait(waitForEntry(page, 'messages', predicate, argument, timeout));
    check(await message((m) => m.type === 'qplay:ready', null, APP_TIMEOUT) !== null,
          `another origin: its embedding page hears qplay:ready (${elapsed()})`);
    await page.evaluate((site) => document.getElementById('app').contentWindow.postMessage(
        {type: 'qplay:set', key: 'weight_bits', value: '5'}, site), site);
    check(await message((m) => m.type === 'qplay:state' && /weight_bits=5/.test(m.hash)) !== null,
          'another origin: the embedding page may drive the app');
    check(log.errors.length === 0, `another origin: no console errors${log.errors.length ? ': ' + log.errors.join(' | ') : ''}`);
    await page.close();
  }
  {
    // Without a referrer the embedding origin is unknown: its messages are refused, nothing is posted.
    const hash = encodeURIComponent('dataset=moons&methods=baseline');
    const {page, log} = await openPage(`${other}/test/cross.html?hash=${hash}&referrer=no-referrer`);
    let app = null;
    for (const deadline = Date.now() + APP_TIMEOUT; !app && Date.now() < deadline; await sleep(200)) {
      const frame = appFrames(page)[0];
      if (frame && await tryWait(framesDrawn(frame)) > 0) app = frame;
    }
    check(app !== null, `no referrer: the app runs (${elapsed()})`);
    await page.evaluate((site) => document.getElementById('app').contentWindow.postMessage(
        {type: 'qplay:set', key: 'weight_bits', value: '5'}, site), site);
    await sleep(1500);
    const appHash = app ? await app.evaluate(() => location.hash) : '';
    check(!/weight_bits=5/.test(appHash), `no referrer: a message from the unknown origin is ignored ('${appHash}')`);
    check(log.warnings.some((w) => w.includes('ignored a message from ' + other)), 'no referrer: with a console warning');
    check(await page.evaluate(() => window.messages.length) === 0 && log.errors.length === 0,
          `no referrer: the app posts nothing to a page it cannot name${log.errors.length ? ': ' + log.errors.join(' | ') : ''}`);
    await page.close();
  }

  // ==== 5. A malformed link still opens ===============================================================
  {
    const {page, log} = await openPage(`${site}/test/iframe.html?hash=${encodeURIComponent('%zz&weight_bits=99')}`);
    const message = (predicate, argument, timeout) => tryWait(waitForEntry(page, 'messages', predicate, argument, timeout));
    check(await message((m) => m.type === 'qplay:ready', null, APP_TIMEOUT) !== null, `bad link: the app still loads (${elapsed()})`);
    const state = await message((m) => m.type === 'qplay:state');
    check(state !== null && !/weight_bits/.test(state.hash) && /seed=/.test(state.hash),
          `bad link: with the defaults ('${state?.hash}')`);
    const error = await message((m) => m.type === 'qplay:error');
    check(error !== null && /%zz/.test(error.message) && /weight_bits/.test(error.message),
          `bad link: qplay:error names both bad parts ('${error?.message}')`);
    check(log.warnings.some((w) => w.includes('weight_bits=99')), 'bad link: and the app warns in the console');
    check(log.errors.length === 0, `bad link: no console errors${log.errors.length ? ': ' + log.errors.join(' | ') : ''}`);
    await page.close();
  }

  // ==== 6. The lessons ================================================================================
  for (const name of LESSONS) {
    const {page, log} = await openPage(`${site}/examples/${name}`);
    let drawn = false, what = '';
    if (name === 'index.html') {
      const links = await page.evaluate(() => [...document.querySelectorAll('a.card')].map((a) => a.href));
      const statuses = await Promise.all(links.map((link) => fetch(link).then((r) => r.status)));
      drawn = links.length === LESSONS.length - 1 && statuses.every((status) => status === 200);
      what = `links to ${links.length} lessons, all there`;
    } else if (name === 'chart-it-yourself.html') {
      drawn = await tryWait(page.waitForFunction(() => document.getElementById('chart').dataset.state === 'trained',
                                                 null, {timeout: APP_TIMEOUT})) !== null;
      const painted = await page.evaluate(() => {
        const canvas = document.getElementById('chart');
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0;
        for (let i = 3; i < pixels.length; i += 4) count += pixels[i] > 0;
        return count;
      });
      drawn = drawn && painted > 1000;
      what = `the chart shows trained runs (${painted} pixels painted)`;
    } else if (name === 'dropbits-and-learned-bits.html') {  // the iframe lesson: buttons wake on qplay:ready
      drawn = await tryWait(page.waitForFunction(
          () => !document.querySelector('[data-send="train"]').disabled && /CPQ/.test(document.getElementById('readout').textContent),
          null, {timeout: APP_TIMEOUT})) !== null;
      if (drawn) {  // the bits CPQ learned, live from the playground's metrics
        drawn = await tryWait(page.waitForFunction(() => /learned bits per layer: [1-4], [1-4], [1-4]/.test(document.getElementById('readout').textContent),
                                                   null, {timeout: APP_TIMEOUT})) !== null;
      }
      if (drawn) {
        await page.click('[data-layers="3,2,3"]');
        drawn = await tryWait(page.waitForFunction(() => /3, 2, 3 bits per layer/.test(document.getElementById('readout').textContent),
                                                   null, {timeout: EVENT_TIMEOUT})) !== null;
      }
      what = 'its playground is ready, reports numbers and the learned bits, and takes the buttons';
    } else if (name === 'mixed-precision.html') {
      const result = await checkMixedPrecisionLesson(page);
      drawn = result.passed;
      what = result.what;
    } else {
      drawn = await tryWait(page.waitForFunction(() => document.querySelector('qplay-playground')?.ready === true,
                                                 null, {timeout: APP_TIMEOUT})) !== null;
      what = 'its <qplay-playground> is ready';
    }
    if (name !== 'index.html' && name !== 'chart-it-yourself.html') {
      const app = appFrames(page)[0];
      const frames = app ? await tryWait(framesDrawn(app)) : 0;
      drawn = drawn && frames > 0;
      what += ` and draws (${frames} frames)`;
    }
    check(drawn, `lesson ${name}: ${what} (${elapsed()})`);
    await shoot(page, `lesson-${name.replace('.html', '.png')}`);
    check(log.errors.length === 0, `lesson ${name}: no console errors${log.errors.length ? ': ' + log.errors.join(' | ') : ''}`);
    await page.close();
  }
} catch (error) {
  check(false, `test stopped: ${error.stack || error}`);
} finally {
  await browser.close();
  for (const server of servers) server.close();
}
console.log(`embedding: ${elapsed()}`);
console.log(failures.length === 0 ? 'embedding: all checks passed' : `embedding: ${failures.length} check(s) failed`);
process.exit(failures.length === 0 ? 0 : 1);
