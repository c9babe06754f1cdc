// Writes assets/icons/qplay-64.png (the desktop window's icon) from assets/icons/qplay.svg (the pages' icon),
// rendered by Debian's chromium so the two agree.
//   node tools/assets/make_icons.mjs
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const svg = readFileSync(path.join(root, 'assets/icons/qplay.svg'), 'utf8');
const browser = await chromium.launch({executablePath: '/usr/bin/chromium', args: ['--no-sandbox']});
const page = await browser.newPage({viewport: {width: 64, height: 64}});
await page.setContent(`<html><body style="margin:0;background:transparent">${svg.replace('<svg ', '<svg width="64" height="64" ')}</body></html>`);
await page.screenshot({path: path.join(root, 'assets/icons/qplay-64.png'), omitBackground: true});
await browser.close();
