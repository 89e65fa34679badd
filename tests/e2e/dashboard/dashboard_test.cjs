// The dashboard's acceptance run (issue 21): Debian's Chromium, driven by playwright-core,
// against a real `runway serve` deploying the demo app on loopback.
//
//   node dashboard_test.cjs      with RUNWAY_BIN (the runway binary; runway-demo-app beside it),
//                                RUNWAY_TEST_OUT (screenshots go there) and NODE_PATH (the build's
//                                web/node_modules)
//
// Each check prints "ok - NAME" or "not ok - NAME: why"; the last line is "N passed, N failed"
// and the exit code is 1 when any failed. Measurements (first render with 100 deployments in
// history, the gzipped size of the assets) are printed, not asserted, except the size limit.
'use strict';

const assert = require('assert');
const childProcess = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const zlib = require('zlib');
const { chromium } = require('playwright-core');
const AxeBuilder = require('@axe-core/playwright').default;

const runwayBin = process.env.RUNWAY_BIN;
const outDir = process.env.RUNWAY_TEST_OUT || path.join(os.tmpdir(), 'runway-dashboard-shots');
if (!runwayBin) {
  console.error('RUNWAY_BIN must name the runway binary');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });

const kConfig = `apiVersion: runway/v1
kind: Application
metadata:
  name: shop
spec:
  services:
    - name: web
      local:
        command: ["runway-demo-app", "--port", "\${PORT}"]
      env:
        VERSION: "\${VERSION}"
      health:
        path: /health
        period: 100ms
        failureThreshold: 3
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: staging
spec:
  runtime:
    local: {}
  strategy: canary
  canary:
    steps:
      - setWeight: 25
      - pause: {}
      - setWeight: 50
      - pause: {}
      - setWeight: 100
      - pause: {}
    analysis:
      templates: [errors]
      startingStep: 0
    abortScaleDownDelay: 1s
  progressDeadline: 1m
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: production
spec:
  runtime:
    local: {}
  strategy: rolling
  approvals:
    roles: [tech-lead, product-manager]
    preventSelfApproval: true
  progressDeadline: 1m
---
apiVersion: runway/v1
kind: Environment
metadata:
  name: archive
spec:
  runtime:
    local: {}
  promotesFrom: staging
  strategy: rolling
---
apiVersion: runway/v1
kind: AnalysisTemplate
metadata:
  name: errors
spec:
  metrics:
    - name: error-rate
      provider: builtin
      query: error_rate
      window: 3s
      initialDelay: 500ms
      interval: 500ms
      failureCondition: "result > 0.2"
      noData: inconclusive
      inconclusiveLimit: 100
`;

const kChromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---- a runway serve of our own ----------------------------------------------------------------

class Server {
  constructor(dir) {
    this.dir = dir;
    this.data = path.join(dir, 'data');
    this.config = path.join(dir, 'runway.yaml');
    fs.writeFileSync(this.config, kConfig);
  }

  async start(extraArgs = []) {
    const env = { ...process.env, PATH: `${path.dirname(runwayBin)}:${process.env.PATH}` };
    this.proc = childProcess.spawn(
      runwayBin,
      ['serve', '--config', this.config, '--data', this.data, '--listen', '127.0.0.1:0', ...extraArgs],
      { env, stdio: ['ignore', 'pipe', fs.openSync(path.join(this.dir, 'serve.log'), 'a')] },
    );
    const lines = readline.createInterface({ input: this.proc.stdout });
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('runway serve did not start in 60 s')), 60000);
      lines.on('line', (line) => {
        const m = /listening on (http:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      this.proc.on('exit', (code) => reject(new Error(`runway serve exited with ${code}; see ${this.dir}/serve.log`)));
    });
    this.admin = fs.readFileSync(path.join(this.data, 'admin.token'), 'utf8').trim();
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.proc.on('exit', resolve));
    this.proc.kill('SIGTERM');
    await exited;
  }

  // `runway down`: the server, the instances and the router.
  down() {
    childProcess.spawnSync(runwayBin, ['down', '--data', this.data, '--grace', '1'], { stdio: 'ignore', timeout: 60000 });
  }

  async api(method, apiPath, body, token = this.admin) {
    const response = await fetch(this.url + apiPath, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  async token(name, roles) {
    const r = await this.api('POST', '/api/v1/tokens', { name, roles });
    assert.strictEqual(r.status, 201, JSON.stringify(r.body));
    return r.body.token;
  }

  async deploy(environment, version, token, extra = {}) {
    const r = await this.api('POST', '/api/v1/deployments', { environment, version, ...extra }, token);
    return r;
  }

  async deployment(id) {
    return (await this.api('GET', `/api/v1/deployments/${id}`)).body;
  }
}

// Polls `check` (async, returns truthy when done) every 100 ms until `ms` have passed.
async function until(what, check, ms = 60000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---- checks ---------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

async function signIn(page, server, token) {
  await page.goto(server.url + '/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Sections' }).waitFor();
}

// Script errors and Content-Security-Policy violations seen by any page. Failed requests are
// not among them: the test makes some on purpose (401, 403).
const browserErrors = [];

async function newPage(browser, width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: width > 600 ? 900 : 844 } });
  const page = await context.newPage();
  // Generous: CI runs this beside other tests on two cores.
  page.setDefaultTimeout(45000);
  page.on('pageerror', (e) => browserErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) browserErrors.push(m.text());
  });
  return page;
}

async function axe(page, name) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepStrictEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `axe on ${name}`,
  );
}

// Screenshots at both widths; at each the page must fit its width (wide tables scroll inside
// their own box, the page itself never sideways).
async function shoot(page, name) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: width > 600 ? 900 : 844 });
    await page.screenshot({ path: path.join(outDir, `${name}-${width}.png`), fullPage: true });
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= width, `${name} at ${width} px is ${scrollWidth} px wide`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

// The page has not been reloaded since `mark` was set.
async function markPage(page) {
  await page.evaluate(() => {
    window.__notReloaded = true;
  });
}
async function notReloaded(page) {
  assert.strictEqual(await page.evaluate(() => window.__notReloaded === true), true, 'the page was reloaded');
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runway-dashboard-'));
  const server = new Server(dir);
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: kChromiumArgs });
  let load = null;
  let loading = true;
  try {
    await server.start();
    const deployer = await server.token('dora', ['deployer']);
    const techLead = await server.token('tess', ['tech-lead']);
    const productManager = await server.token('pam', ['product-manager']);
    const viewer = await server.token('vic', ['viewer']);

    // History for the first-render measurement: 100 deployments that staging never passed, so
    // archive (promotesFrom: staging) rejects each at once and records it.
    const seeded = await Promise.all(
      Array.from({ length: 100 }, (_, i) => server.deploy('archive', `v0.${i}`, deployer)),
    );
    assert.ok(seeded.every((r) => r.status === 412), 'archive deployments were not all refused at start');

    // staging serves v1 (rolling, to get there fast), with a little traffic for the analysis.
    const v1 = await server.deploy('staging', 'v1', deployer, { strategy: 'rolling' });
    assert.strictEqual(v1.status, 201, JSON.stringify(v1.body));
    await until('staging v1', async () => (await server.deployment(v1.body.deployment)).phase === 'Succeeded');
    const env = (await server.api('GET', '/api/v1/environments/staging')).body;
    const address = env.services[0].address;
    load = (async () => {
      while (loading) {
        await fetch(`http://${address}/`).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const admin = await newPage(browser);
    let stagingId = '';

    await check('sign in with a token: the cookie is HttpOnly and SameSite=Strict', async () => {
      await admin.goto(server.url + '/');
      await admin.getByLabel('API token').waitFor();
      await shoot(admin, 'signin');
      await axe(admin, 'sign-in');
      await admin.getByLabel('API token').fill('rwy_0000000000000000_wrongwrongwrongwrongwrongwrongwrongwrongwro');
      await admin.getByRole('button', { name: 'Sign in' }).click();
      await admin.getByText('Sign-in refused: invalid token').waitFor();
      await signIn(admin, server, server.admin);
      const cookies = await admin.context().cookies();
      const session = cookies.find((c) => c.name === 'runway_session');
      assert.ok(session, 'no session cookie');
      assert.strictEqual(session.httpOnly, true);
      assert.strictEqual(session.sameSite, 'Strict');
      assert.strictEqual(session.path, '/');
      assert.ok(session.expires > Date.now() / 1000, 'the cookie has no expiry');
      // The page cannot read it.
      assert.strictEqual(await admin.evaluate(() => document.cookie.includes('runway_session')), false);
      await admin.getByRole('heading', { name: 'staging' }).waitFor();
    });

    await check('keyboard only: sign in, skip to the content, reach a section', async () => {
      const page = await newPage(browser);
      await page.goto(server.url + '/');
      await page.getByLabel('API token').waitFor();
      await page.keyboard.press('Tab');
      assert.strictEqual(await page.evaluate(() => document.activeElement.id), 'token');
      await page.keyboard.type(viewer);
      await page.keyboard.press('Enter');
      await page.getByRole('navigation', { name: 'Sections' }).waitFor();
      await page.keyboard.press('Tab');
      assert.strictEqual(await page.evaluate(() => document.activeElement.textContent.trim()), 'Skip to content');
      let reached = false;
      for (let i = 0; i < 10 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = (await page.evaluate(() => document.activeElement.textContent.trim())) === 'History';
      }
      assert.ok(reached, 'Tab never reached the History link');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'History', level: 1 }).waitFor();
      await page.context().close();
    });

    await check('watch a canary progress without reloading', async () => {
      await admin.goto(server.url + '/#/environments');
      await admin.getByRole('heading', { name: 'staging' }).waitFor();
      await markPage(admin);
      const r = await server.deploy('staging', 'v2', deployer);
      assert.strictEqual(r.status, 201, JSON.stringify(r.body));
      stagingId = r.body.deployment;
      // The environment card shows the new deployment by itself; follow its link.
      const card = admin.locator('[data-environment="staging"]');
      await card.getByRole('link', { name: 'v2' }).click();
      await admin.getByRole('heading', { name: /v2 in staging/ }).waitFor();
      // 25 % is held (an indefinite pause) until the API promotes it while the page is open: a
      // timed pause could end before a loaded machine has rendered the page at all.
      await admin.locator('[data-service="web"] .weight', { hasText: '25%' }).waitFor({ timeout: 45000 });
      const promoted = await server.api('POST', `/api/v1/deployments/${stagingId}/promote`, { reason: 'seen 25 %' }, deployer);
      assert.strictEqual(promoted.status, 200, JSON.stringify(promoted.body));
      await admin.locator('[data-service="web"] .weight', { hasText: '50%' }).waitFor({ timeout: 45000 });
      await admin.locator('li[aria-current="step"]', { hasText: 'Pause until promoted' }).waitFor();
      await admin.locator('[data-phase="Paused"]').first().waitFor();
      await admin.locator('figure.chart[data-metric^="error-rate"]').first().waitFor();
      await notReloaded(admin);
    });

    await check('after the live stream drops, the page catches up without a reload (Last-Event-ID)', async () => {
      const seen = await admin.evaluate(() => window.runwayLive.lastEventId);
      await admin.evaluate(() => window.runwayLive.drop());
      // While it is down, someone promotes from the CLI/API.
      const r = await server.api('POST', `/api/v1/deployments/${stagingId}/promote`, { reason: 'from the API' }, deployer);
      assert.strictEqual(r.status, 200, JSON.stringify(r.body));
      await admin.locator('[data-service="web"] .weight', { hasText: "100%" }).waitFor({ timeout: 45000 });
      await admin.locator('[data-live="live"]').waitFor();
      assert.ok((await admin.evaluate(() => window.runwayLive.lastEventId)) > seen);
      await notReloaded(admin);
      await shoot(admin, 'deployment');
      await axe(admin, 'deployment');
    });

    await check('abort from the page: a confirmation names what happens, then it rolls back', async () => {
      await admin.locator('[data-action="abort"]').click();
      const dialog = admin.getByRole('dialog');
      await dialog.getByText(/Sends all traffic of staging back to v1 and retires v2/).waitFor();
      await dialog.getByLabel(/Reason/).fill('seen enough');
      await dialog.getByRole('button', { name: 'Abort' }).click();
      await admin.locator('h1 [data-phase="RolledBack"]').waitFor({ timeout: 45000 });
      await admin.locator('[data-kind="deployment.rolled_back"]').waitFor();
      await notReloaded(admin);
      const d = await server.deployment(stagingId);
      assert.strictEqual(d.phase, 'RolledBack');
      assert.match(JSON.stringify(d.events), /seen enough/);
    });

    let prodId = '';
    await check('approve as tech-lead and as product-manager (two tokens); the deployment proceeds', async () => {
      const r = await server.deploy('production', 'v1', deployer);
      assert.strictEqual(r.status, 201, JSON.stringify(r.body));
      prodId = r.body.deployment;
      await until('awaiting approval', async () => (await server.deployment(prodId)).phase === 'AwaitingApproval');
      const approve = async (token, role, watcher) => {
        const page = await newPage(browser);
        await signIn(page, server, token);
        await page.goto(`${server.url}/#/deployments/${prodId}`);
        await page.locator(`[data-approve="${role}"]`).click();
        const dialog = page.getByRole('dialog');
        // The comment is required.
        await dialog.getByRole('button', { name: 'Approve' }).click();
        await dialog.getByText('Comment is required.').waitFor();
        await dialog.getByLabel(/Comment/).fill(`ok from ${role}`);
        await dialog.getByRole('button', { name: 'Approve' }).click();
        await page.locator('.decisions li', { hasText: `ok from ${role}` }).waitFor();
        await page.context().close();
        if (watcher) await watcher();
      };
      await admin.goto(`${server.url}/#/deployments/${prodId}`);
      await markPage(admin);
      await admin.locator('[data-pending="tech-lead,product-manager"]').waitFor();
      // The admin holds no approver role: no approval buttons for it.
      assert.strictEqual(await admin.locator('[data-approve]').count(), 0);
      await approve(techLead, 'tech-lead', () => admin.locator('[data-pending="product-manager"]').waitFor());
      await approve(productManager, 'product-manager');
      await admin.locator('h1 [data-phase="Succeeded"]').waitFor({ timeout: 45000 });
      await admin.locator('.decisions li', { hasText: 'ok from product-manager' }).waitFor();
      await notReloaded(admin);
    });

    await check('a viewer sees no action buttons, and a forged POST with its session is 403', async () => {
      const page = await newPage(browser);
      await signIn(page, server, viewer);
      const again = await server.deploy('production', 'v2', deployer);
      assert.strictEqual(again.status, 201);
      await page.goto(`${server.url}/#/deployments/${again.body.deployment}`);
      await page.locator('[data-pending="tech-lead,product-manager"]').waitFor();
      assert.strictEqual(await page.locator('[data-action], [data-approve], [data-reject]').count(), 0);
      await shoot(page, 'deployment-viewer');
      const forged = await page.evaluate(async (id) => {
        const session = await (await fetch('/api/v1/session')).json();
        const r = await fetch(`/api/v1/deployments/${id}/abort`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.csrfToken },
          body: '{}',
        });
        return { status: r.status, body: await r.json() };
      }, again.body.deployment);
      assert.strictEqual(forged.status, 403, JSON.stringify(forged.body));
      assert.match(forged.body.error.message, /lacks the role "deployer"/);
      assert.strictEqual((await server.deployment(again.body.deployment)).phase, 'AwaitingApproval');
      await server.api('POST', `/api/v1/deployments/${again.body.deployment}/reject`, { comment: 'test over' }, techLead);
      await page.context().close();
    });

    await check('a state-changing call with the session cookie but without the CSRF token is refused', async () => {
      const page = await newPage(browser);
      await signIn(page, server, deployer);
      const answers = await page.evaluate(async () => {
        const body = JSON.stringify({ reason: 'csrf probe' });
        const bare = await fetch('/api/v1/environments/staging/retry', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
        const wrong = await fetch('/api/v1/environments/staging/retry', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'not-the-token' },
          body,
        });
        return [bare.status, (await bare.json()).error.message, wrong.status];
      });
      assert.strictEqual(answers[0], 403);
      assert.match(answers[1], /CSRF/);
      assert.strictEqual(answers[2], 403);
      await page.context().close();
    });

    await check('first render with 100 deployments in history (measured, not asserted)', async () => {
      const page = await newPage(browser);
      await signIn(page, server, viewer);
      const started = Date.now();
      await page.goto(`${server.url}/#/history?environment=archive&limit=100`);
      await page.locator('table.history tbody tr').nth(99).waitFor();
      const ms = Date.now() - started;
      console.log(`# first render of History with 100 deployments: ${ms} ms (loopback, page load to the 100th row)`);
      await page.context().close();
    });

    await check('every page at 1280 and 390 px: screenshots and axe (no serious or critical violation)', async () => {
      const opened = await server.api(
        'POST',
        '/api/v1/incidents',
        { title: 'Checkout errors after v2', severity: 2, environment: 'staging', deployment: stagingId, reason: 'canary aborted' },
        deployer,
      );
      assert.strictEqual(opened.status, 201, JSON.stringify(opened.body));
      const incident = opened.body.id;
      const pages = [
        ['environments', '#/environments', () => admin.getByRole('heading', { name: 'staging' })],
        ['history', '#/history?environment=archive', () => admin.locator('table.history tbody tr').first()],
        ['audit', '#/audit', () => admin.locator('[data-intact="true"]')],
        ['incidents', `#/incidents/${incident}`, () => admin.locator('.incident-timeline li').first()],
        ['notifications', '#/notifications', () => admin.getByRole('heading', { name: 'Notifications' })],
        ['production-deployment', `#/deployments/${prodId}`, () => admin.locator('h1 [data-phase="Succeeded"]')],
      ];
      for (const [name, hash, ready] of pages) {
        await admin.goto(`${server.url}/${hash}`);
        await ready().waitFor();
        await shoot(admin, name);
        await axe(admin, name);
      }
    });

    await check('an incident is acknowledged from its page', async () => {
      await admin.goto(`${server.url}/#/incidents`);
      await admin.getByRole('link', { name: 'Checkout errors after v2' }).click();
      await admin.getByRole('button', { name: 'Acknowledge' }).click();
      const dialog = admin.getByRole('dialog');
      await dialog.getByLabel(/Message/).fill('looking at it');
      await dialog.getByRole('button', { name: 'Acknowledge' }).click();
      await admin.locator('.incident-timeline li', { hasText: 'acknowledged' }).waitFor();
      await admin.locator('#incident-h', { hasText: 'acknowledged' }).waitFor();
    });

    await check('the embedded assets are under 300 KB gzipped, with type, ETag and CSP', async () => {
      let total = 0;
      for (const asset of ['/', '/assets/app.js', '/assets/app.css', '/assets/icon.svg']) {
        const r = await fetch(server.url + asset);
        assert.strictEqual(r.status, 200, asset);
        assert.ok(r.headers.get('etag'), `${asset} has no ETag`);
        assert.match(r.headers.get('content-security-policy') || '', /default-src 'none'; script-src 'self'/);
        const again = await fetch(server.url + asset, { headers: { 'If-None-Match': r.headers.get('etag') } });
        assert.strictEqual(again.status, 304, asset);
        const bytes = Buffer.from(await r.arrayBuffer());
        const gz = zlib.gzipSync(bytes, { level: 9 }).length;
        console.log(`# ${asset}: ${bytes.length} bytes, ${gz} gzipped (${r.headers.get('content-type')})`);
        total += gz;
      }
      console.log(`# dashboard assets: ${total} bytes gzipped in all (limit 300 KB)`);
      assert.ok(total < 300 * 1024);
    });

    loading = false;
    await load;

    await check('no script error and no Content-Security-Policy violation in any page', async () => {
      assert.deepStrictEqual(browserErrors, []);
    });

    await check('session expiry sends you to sign-in (server restarted with --session-ttl 2s)', async () => {
      await server.stop();
      await server.start(['--session-ttl', '2s']);
      const page = await newPage(browser);
      await signIn(page, server, viewer);
      await page.goto(`${server.url}/#/environments`);
      // The page may show the environments first or, on a loaded machine where signing in took
      // longer than the 2 s session (14 s has been seen), go straight to its end: either way it
      // must end on the sign-in form saying why.
      await page.getByText('Your session has ended. Sign in again.').waitFor({ timeout: 45000 });
      await page.getByLabel('API token').waitFor();
      const r = await page.evaluate(async () => (await fetch('/api/v1/environments')).status);
      assert.strictEqual(r, 401);
      await page.context().close();
    });
  } finally {
    loading = false;
    await browser.close().catch(() => {});
    await server.stop().catch(() => {});
    server.down();
  }
  // The server's directory stays for a look when something failed.
  if (failed === 0) fs.rmSync(dir, { recursive: true, force: true });
  else console.log(`# the server's directory (serve.log, data): ${dir}`);
  console.log(`# screenshots in ${outDir}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`not ok - the run: ${e && e.stack ? e.stack : e}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
