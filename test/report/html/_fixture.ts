/**
 * A small report for the HTML tests: the tiny scenario (2 instances, round robin and random,
 * 2 seeds, 2 s) with a crash window on instance 0 and an error fault for the whole run, so
 * every chart (fault shading included) has data. Built once per test file.
 */
import { buildReport, type Report } from '../../../src/report/report.js';
import { COUNTER_FIGURES, MAXIMUM_FIGURES, TOTAL_FIGURES } from '../../../src/report/statistics.js';
import { runScenario } from '../../../src/runner/run.js';
import { parseScenarioText } from '../../../src/scenario/load.js';
import { tinyScenario } from '../../_tiny-scenario.js';

export const FAULTS_TAIL = `faults:
  - { kind: crash, target: { service: api, instances: [0] }, at: 800ms, for: 400ms }
  - { kind: error, target: { service: api, instances: [1] }, at: 0s, rate: 5%, status: 503 }
`;

export const FIXTURE_TEXT = tinyScenario({ name: 'html-fixture', tail: FAULTS_TAIL });

export function fixtureReport(text = FIXTURE_TEXT): Report {
  const loaded = parseScenarioText(text, 'fixture.yaml');
  return buildReport({ name: loaded.base.name, sha256: loaded.sha256 }, runScenario(loaded));
}

/**
 * `report` as written before `summary.ci` had the intervals of the counts, maxima and
 * failover counters (and `statistics` their method): those keys removed, nothing else.
 */
export function olderReport(report: Report): Report {
  const newer = new Set<string>([...TOTAL_FIGURES, ...MAXIMUM_FIGURES, ...COUNTER_FIGURES]);
  const { totals: _totals, maxima: _maxima, ...statistics } = report.statistics;
  return {
    ...report,
    statistics,
    variants: report.variants.map((v) => ({ ...v, summary: { ...v.summary, ci: Object.fromEntries(Object.entries(v.summary.ci).filter(([k]) => !newer.has(k))) as Report['variants'][number]['summary']['ci'] } })),
  };
}
