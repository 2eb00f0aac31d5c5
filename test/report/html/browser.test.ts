/**
 * index.html in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) opens the page from disk and every chart must have rendered — its <svg>
 * laid out with a non-zero size and its marks drawn — with no console error, no page error
 * and no request but the page itself (the page must open without network).
 *
 * Without Chromium the test is skipped, with how to install it; with MESHSIM_REQUIRE_BROWSER=1
 * (as .ci/run sets) a missing browser fails it. MESHSIM_CHROMIUM names another binary.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { writeHtmlReport } from '../../../src/report/html/write.js';
import { buildCharts, CHART_NAMES } from '../../../src/report/html/specs.js';
import { FIXTURE_TEXT, fixtureReport } from './_fixture.js';

const CHROMIUM = process.env.MESHSIM_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = process.env.MESHSIM_REQUIRE_BROWSER === '1';
const AVAILABLE = existsSync(CHROMIUM);
const HOW = 'install it with `sudo apt-get install chromium` (Debian/Ubuntu; .ci/run does), or set MESHSIM_CHROMIUM to a Chromium binary';

if (!AVAILABLE && !REQUIRED) console.warn(`skipping the headless-browser test of index.html: no Chromium at ${CHROMIUM}; ${HOW}`);

/** The Vega mark groups each chart must draw. */
const MARKS: Readonly<Record<string, readonly string[]>> = {
  'latency-percentiles': ['mark-line', 'mark-symbol'],
  timeline: ['mark-line', 'mark-rect'],
  instances: ['mark-rect', 'mark-text'],
  'summary-intervals': ['mark-rule', 'mark-symbol'],
};

/** The little of the DOM the page check uses (the project's types have no DOM library). */
interface DomNode {
  querySelector(selector: string): DomNode | null;
  querySelectorAll(selector: string): ArrayLike<DomNode>;
  getBoundingClientRect(): { width: number; height: number };
  getBBox(): { width: number; height: number };
}

interface ChartLayout {
  readonly svgs: number;
  readonly width: number;
  readonly height: number;
  /** Per mark group class: the number of drawn items with a non-empty bounding box. */
  readonly marks: Record<string, number>;
}

// A missing browser fails a test (not just the suite's setup), so CI's count of failed tests shows it.
describe.runIf(REQUIRED && !AVAILABLE)('the browser CI requires', () => {
  it('is installed (MESHSIM_REQUIRE_BROWSER=1)', () => {
    expect.fail(`MESHSIM_REQUIRE_BROWSER=1 but there is no Chromium at ${CHROMIUM}: ${HOW}`);
  });
});

describe.skipIf(!AVAILABLE)('index.html in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshsim-browser-'));
  const report = fixtureReport();
  let browser: Browser | undefined;
  const problems: string[] = [];
  let url = '';
  let opened: Promise<Page> | undefined;

  /** Writes the page and opens it, once; a failure here fails each test that needs the page. */
  async function openPage(): Promise<Page> {
    const scenario = join(dir, 'in.yaml');
    writeFileSync(scenario, FIXTURE_TEXT);
    const { warnings } = await writeHtmlReport(dir, report, { scenarioFile: scenario });
    expect(warnings).toEqual([]);
    url = pathToFileURL(join(dir, 'index.html')).href;
    browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 30_000 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
    page.on('request', (r) => {
      if (r.url() !== url) problems.push(`request to something other than the page: ${r.url()}`);
    });
    const response = await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
    expect(response?.ok() ?? true).toBe(true);
    return page;
  }
  const ready = (): Promise<Page> => (opened ??= openPage());

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders every chart: its <svg> laid out with a size, its marks drawn', { timeout: 90_000 }, async () => {
    const page = await ready();
    const expected = buildCharts(report).map((c) => c.name);
    expect(expected).toEqual([...CHART_NAMES]);
    for (const name of expected) {
      const layout = await page.evaluate(
        ({ name, marks }): ChartLayout => {
          const figure = (globalThis as unknown as { document: DomNode }).document.querySelector(`figure[data-chart="${name}"]`);
          const svgs: ArrayLike<DomNode> = figure?.querySelectorAll(':scope > svg') ?? [];
          const svg = svgs.length > 0 ? svgs[0] : undefined;
          const box = svg?.getBoundingClientRect();
          const drawn: Record<string, number> = {};
          for (const mark of marks) {
            const items = Array.from(svg?.querySelectorAll(`g.${mark} > path, g.${mark} > line, g.${mark} > text`) ?? []);
            drawn[mark] = items.filter((el) => {
              const b = el.getBBox();
              return b.width > 0 || b.height > 0;
            }).length;
          }
          return { svgs: svgs.length, width: box?.width ?? 0, height: box?.height ?? 0, marks: drawn };
        },
        { name, marks: MARKS[name] },
      );
      expect(layout.svgs, name).toBe(1);
      expect(layout.width, name).toBeGreaterThan(100);
      expect(layout.height, name).toBeGreaterThan(50);
      for (const mark of MARKS[name]) expect(layout.marks[mark], `${name}: ${mark}`).toBeGreaterThan(0);
    }
  });

  it('shows the tables and the scenario', { timeout: 90_000 }, async () => {
    const page = await ready();
    expect(await page.title()).toBe('meshsim report: html-fixture');
    expect(await page.locator('#summary-table tbody tr').count()).toBe(report.variants.length);
    expect(await page.locator('#differences-table tbody tr').count()).toBe(report.variants.length - 1);
    expect(await page.locator('#scenario-text').textContent()).toBe(FIXTURE_TEXT);
  });

  it('logged no error and requested nothing but the page itself', { timeout: 90_000 }, async () => {
    const page = await ready();
    // Everything the page loads has loaded by now; a last look at the settled page.
    await page.waitForLoadState('networkidle');
    expect(problems).toEqual([]);
  });
});
