// Drives the admin review page in headless Chromium: the quarantined batch
// is listed, release asks for the token and a confirmation, and the batch
// then shows as released. Run by gate/browser_test.go:
//
//   node review.test.mjs URL TOKEN BATCH_ID [SCREENSHOT_DIR]
//
// Exit 0 when every check holds, 1 with the reason otherwise, 2 on bad
// usage. Chromium is the system's (CHROMIUM, default /usr/bin/chromium);
// playwright-core never downloads a browser.
import { chromium } from 'playwright-core';
import os from 'node:os';
import path from 'node:path';

const [url, token, id, shotDir = os.tmpdir()] = process.argv.slice(2);
if (!url || !token || !id) {
  console.error('usage: node review.test.mjs URL TOKEN BATCH_ID [SCREENSHOT_DIR]');
  process.exit(2);
}

const watchdog = setTimeout(() => {
  console.error('FAIL: the browser test took longer than 25s');
  process.exit(1);
}, 25_000);

async function until(cond, what) {
  for (const end = Date.now() + 10_000; !cond(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
  }
}

const t0 = Date.now();
function check(ok, what) {
  if (!ok) throw new Error(what);
  console.log(`ok  ${what} (${Date.now() - t0} ms)`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
console.log(`chromium started (${Date.now() - t0} ms)`);
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 820 } });
  page.setDefaultTimeout(10_000);
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') { problems.push('console error: ' + m.text()); console.log(`console error at ${Date.now() - t0} ms: ${m.text().slice(0, 60)} ${JSON.stringify(m.location())}`); } });
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const dialogs = [];
  let acceptDialogs = false;
  page.on('dialog', async (d) => {
    dialogs.push(d.type() + ': ' + d.message());
    if (acceptDialogs) await d.accept(); else await d.dismiss();
  });

  const resp = await page.goto(url);
  check(resp.status() === 200, `GET ${url} is 200 (got ${resp.status()})`);
  const held = page.locator(`#held tbody[data-batch="${id}"]`);
  await held.waitFor();
  check(await held.locator('.badge.state').innerText() === 'quarantined', `${id} is listed as quarantined`);
  check((await held.locator('ul.findings li').count()) > 0, `${id} shows its findings`);
  check((await held.locator('ol.records li').count()) > 0, `${id} shows a sample of its records`);
  await page.screenshot({ path: path.join(shotDir, 'review-held.png'), fullPage: true, caret: 'initial' });

  const result = held.locator('.result');
  // No token: the page asks for one and sends nothing.
  await held.locator('button[data-action="release"]').click();
  await result.filter({ hasText: 'admin token' }).waitFor();
  check(dialogs.length === 0, 'without a token, release asks for it before anything else');
  // Drop without a reason is refused on the page.
  await page.fill('#token', token);
  await held.locator('button[data-action="drop"]').click();
  await result.filter({ hasText: 'needs a reason' }).waitFor();
  check(dialogs.length === 0, 'a drop without a reason is refused on the page');
  // Dismissing the confirmation changes nothing.
  await held.locator('button[data-action="release"]').click();
  await until(() => dialogs.length === 1, 'the confirmation');
  check(dialogs.length === 1 && dialogs[0].startsWith('confirm: Release ' + id), `release asks for confirmation (${dialogs[0]})`);
  check(!requests.some((u) => u.includes('/release')), 'a dismissed confirmation sends nothing');
  // A wrong token: the API's 401 is shown, the batch stays.
  acceptDialogs = true;
  await page.fill('#token', token + '-wrong');
  await held.locator('button[data-action="release"]').click();
  await page.locator('#status.error', { hasText: '401' }).waitFor();
  check(await held.locator('.badge.state').innerText() === 'quarantined', 'a wrong token gets 401 on the page; the batch stays held');
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('401'))); // the browser logs the failed fetch

  // The right token, remembered in this tab, and a reason.
  await page.fill('#token', token);
  await page.check('#remember');
  await held.locator('input.reason').fill('vendor confirmed the delivery');
  await held.locator('button[data-action="release"]').click();
  await page.locator('#status.ok', { hasText: 'is now released' }).waitFor();
  const recent = page.locator(`#recent tr[data-batch="${id}"]`);
  await recent.waitFor();
  check(await recent.locator('.badge.state').innerText() === 'released', `${id} now shows as released`);
  check(await held.count() === 0, `${id} left the held list`);
  check((await recent.innerText()).includes('vendor confirmed the delivery'), 'the reason is recorded');
  check(dialogs.length === 3, 'each release asked for confirmation');

  // The token went only into the Authorization header: never a URL, and
  // into sessionStorage only because "remember" was ticked.
  check(!requests.some((u) => u.includes(token)), 'the token is in no URL');
  check(await page.evaluate(() => sessionStorage.getItem('sluice.adminToken')) === token, 'the token is kept in sessionStorage when asked');
  check(await page.evaluate(() => localStorage.length) === 0, 'nothing is kept in localStorage');
  check(problems.length === 0, 'no page errors: ' + problems.join('; '));
  const shot = path.join(shotDir, 'review-released.png');
  await page.screenshot({ path: shot, fullPage: true, caret: 'initial' });
  console.log('screenshots: ' + path.join(shotDir, 'review-held.png') + ' ' + shot);
} catch (e) {
  failed = true;
  console.error('FAIL: ' + (e && e.message ? e.message : e));
} finally {
  await browser.close();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
