// The console in a real headless browser (Debian's chromium driven by puppeteer-core) on the real
// path: the tank PLC simulator, the agent (`otsentry run` as a child process, the demo's config),
// mosquitto, and central with its console. A responder logs in, sees the site go from normal to
// severe when the demo's setpoint-tamper attack starts, acknowledges and resolves the alert; a
// signal signed with another key is flagged as forged; a viewer gets no response controls.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCentral, type Central } from '../../../agent/central/central.js';
import { loadCentralConfig } from '../../../agent/central/config/load.js';
import { hashPassword } from '../../../agent/central/console/password.js';
import { startConsolePart } from '../../../agent/central/console/server.js';
import { demoAgentConfig } from '../../../agent/demo/config.js';
import { createLogger } from '../../../protocols/log.js';
import { startModbusSimulator, tankSimulatorConfig, type ModbusSimulator } from '../../../simulators/modbus/index.js';
import { SimAgent } from '../../../bench/central/simagent.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { freePort } from '../../helpers/ports.js';
import { startAgent, type AgentProcess } from '../../e2e/harness.js';
import { PASSWORDS } from './fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const SITE = 'demo-site';
const AGENT = 'demo-gw';
const WAIT = { timeout: 45_000 };

let dir: string;
let broker: TestBroker;
let sim: ModbusSimulator;
let agent: AgentProcess;
let central: Central;
let consoleUrl: string;
let browser: Browser;
let profile: string;
const centralLog: string[] = [];
/** OTSENTRY_CONSOLE_SCREENSHOTS=DIR keeps a PNG of each page the test looks at (to review the look). */
const shots = process.env.OTSENTRY_CONSOLE_SCREENSHOTS;
const shot = async (page: Page, name: string) => {
  if (shots) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
};

/** A page in a fresh browser context (its own cookies), logged in as `name`. */
async function login(name: string, password: string): Promise<Page> {
  const page = await (await browser.createBrowserContext()).newPage();
  await page.goto(consoleUrl, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#login');
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.type('#name', name);
  await page.type('#password', password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('#login-submit')]);
  await page.waitForFunction(`document.getElementById('who').textContent.startsWith(${JSON.stringify(name)})`);
  return page;
}

/** What the failing wait was about, with central's log and the agent's output, when a wait times out. */
async function explain<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}\n--- central log ---\n${centralLog.slice(-30).join('')}\n--- agent ---\n${agent.output().slice(-3000)}`);
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-console-browser-'));
  broker = await startTestBroker();
  sim = await startModbusSimulator(tankSimulatorConfig({ plcs: 1 }));
  const agentFile = path.join(dir, 'agent.yaml');
  fs.writeFileSync(agentFile, stringify(demoAgentConfig({ brokerUrl: broker.url, dataDir: path.join(dir, 'agent-data'), plcs: sim.plcs })));
  const fast = { ln: 10, r: 8, p: 1 };
  const centralFile = path.join(dir, 'central.yaml');
  fs.writeFileSync(
    centralFile,
    stringify({
      central: { id: 'browser-test', data_dir: 'central-data' },
      broker: { url: broker.url, reconnect_ms: 100 },
      console: {
        listen: `127.0.0.1:${await freePort()}`,
        users: [
          { name: 'alice', role: 'responder', password_hash: await hashPassword(PASSWORDS.alice, fast) },
          { name: 'victor', role: 'viewer', password_hash: await hashPassword(PASSWORDS.victor, fast) },
        ],
      },
    }),
  );
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      centralLog.push(chunk.toString());
      cb();
    },
  });
  central = await startCentral(loadCentralConfig(centralFile), { log: createLogger('info', sink), parts: [startConsolePart] });
  consoleUrl = central.parts.find((p) => p.name === 'console')!.url!;
  agent = startAgent(agentFile);
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'otsentry-chromium-'));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await agent?.kill('SIGTERM');
  await central?.stop();
  await sim?.stop();
  await broker?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
}, 60_000);

describe('console in chromium on the real path', () => {
  it('logs in, sees the site go from normal to severe on setpoint-tamper, acknowledges and resolves the alert', async () => {
    const page = await login('alice', PASSWORDS.alice);
    await explain('the site card at normal', page.waitForSelector(`.card[data-site="${SITE}"][data-level="normal"]`, WAIT));

    await sim.startScenario('setpoint-tamper', sim.plcs[0]!.id);
    // Pushed live: the page is not reloaded.
    await explain('the site card turning severe', page.waitForSelector(`.card[data-site="${SITE}"][data-level="severe"]`, WAIT));

    await page.click(`.card[data-site="${SITE}"]`);
    await page.waitForSelector(`[data-site-page="${SITE}"][data-level="severe"]`, WAIT);
    // The timeline shows both levels, the device's risk chart its high score.
    await explain('the timeline with normal then severe', page.waitForSelector('svg.timeline rect[data-level="normal"] ~ rect[data-level="severe"]', WAIT));
    const risk = await page.$eval('svg.risk', (e) => Number(e.getAttribute('data-score')));
    expect(risk).toBeGreaterThanOrEqual(75);
    expect(await page.$eval(`tr[data-agent="${AGENT}"]`, (e) => e.getAttribute('data-chain'))).toBe('verified');
    await shot(page, 'site-severe');

    const row = await explain('an open critical alert of the integrity rule', page.waitForSelector('table.alerts tr[data-state="open"][data-kind="signal"][data-rule="config"]', WAIT));
    const alertId = await row!.evaluate((e) => e.getAttribute('data-alert-id')!);
    await row!.$eval('a[href^="#/alert/"]', (a) => (a as unknown as { click(): void }).click());
    await page.waitForSelector(`[data-alert-page="${alertId}"][data-state="open"]`, WAIT);
    await page.click('button[data-action="ack"]');
    await page.waitForSelector(`[data-alert-page="${alertId}"][data-state="acknowledged"]`, WAIT);
    await page.type('textarea[data-input="resolve"]', 'setpoint rewritten over Modbus FC16; values restored, engineering laptop isolated');
    await page.click('button[data-action="resolve"]');
    await page.waitForSelector(`[data-alert-page="${alertId}"][data-state="resolved"]`, WAIT);
    await shot(page, 'alert-resolved');
    const history = await page.$$eval('ol.history li', (li) => li.map((x) => x.textContent ?? ''));
    expect(history).toHaveLength(2);
    expect(history[0]).toMatch(/^acknowledged by alice, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    expect(history[1]).toContain('resolved by alice');
    expect(history[1]).toContain('engineering laptop isolated');
    const steps = await central.store.listResponses(alertId);
    expect(steps.map((s) => [s.action, s.by])).toEqual([['ack', 'alice'], ['resolve', 'alice']]);

    // Resolved alerts leave the open list.
    await page.goto(`${consoleUrl}#/alerts`);
    await page.waitForSelector('table.alerts, [data-empty="alerts"]', WAIT);
    expect(await page.$(`tr[data-alert-id="${alertId}"]`)).toBeNull();
    await page.browserContext().close();
  }, 180_000);

  it('flags a signal signed with another key as forged', async () => {
    const page = await login('alice', PASSWORDS.alice);
    await page.goto(`${consoleUrl}#/findings`);
    await page.waitForSelector('main#view h1');
    // Someone on the broker publishes as the agent, with a key of their own.
    const forger = new SimAgent(SITE, AGENT);
    forger.seq = 999_999;
    const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    await client.publishAsync(`otsentry/${SITE}/${AGENT}/events`, forger.next({ ...forger.draft(), device: sim.plcs[0]!.id, message: 'all good, nothing to see' }).payload, { qos: 1 });
    await client.endAsync();
    // The findings page refreshes on the live stream.
    const row = await explain('the forged finding', page.waitForSelector('table.findings tr[data-code="forged"]', WAIT));
    expect(await row!.evaluate((e) => e.textContent)).toContain(`${SITE} / ${AGENT}`);
    await shot(page, 'findings-forged');
    await page.goto(`${consoleUrl}#/alerts`);
    await page.waitForSelector('table.alerts tr[data-kind="finding"][data-rule="forged"]', WAIT);
    await page.goto(`${consoleUrl}#/`);
    await page.waitForSelector(`.card[data-site="${SITE}"]`, WAIT);
    await shot(page, 'sites');
    await page.browserContext().close();
  }, 120_000);

  it('gives a viewer the pages but no response controls', async () => {
    const page = await login('victor', PASSWORDS.victor);
    await page.goto(`${consoleUrl}#/alerts`);
    const row = await page.waitForSelector('table.alerts tr[data-rule="forged"]', WAIT);
    expect(await page.$('button[data-action]')).toBeNull();
    await row!.$eval('a[href^="#/alert/"]', (a) => (a as unknown as { click(): void }).click());
    await page.waitForSelector('[data-alert-page]', WAIT);
    expect(await page.$('button[data-action], textarea[data-input]')).toBeNull();
    expect(await page.$eval('main#view', (e) => e.textContent)).toContain('Read-only role');
    await page.browserContext().close();
  }, 120_000);
});
