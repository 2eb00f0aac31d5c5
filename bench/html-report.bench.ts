/**
 * What the HTML report adds to `meshsim run`: for each report directory given, the time to
 * load Vega and Vega-Lite (once per process, on first chart), to build and render the first
 * page (cold: Vega's code not yet optimised) and the next ones (warm; median of --reps),
 * with the page's and the specs' sizes. CPU time beside wall time: on a busy machine the
 * wall time mostly measures the others. Run `meshsim run` first to make the reports.
 *
 *   node --import tsx bench/html-report.bench.ts reports/quickstart /tmp/sweep32 [--reps 3]
 */
import { performance } from 'node:perf_hooks';
import { buildHtmlReport } from '../src/report/html/write.js';
import { readReport } from '../src/report/read.js';

const args = process.argv.slice(2);
const repsAt = args.indexOf('--reps');
const reps = repsAt >= 0 ? Number(args[repsAt + 1]) : 3;
const dirs = args.filter((a, i) => !a.startsWith('--') && i !== repsAt + 1);
if (dirs.length === 0) {
  process.stderr.write('usage: node --import tsx bench/html-report.bench.ts REPORT_DIR... [--reps N]\n');
  process.exit(2);
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};
let t = performance.now();
let cpu = process.cpuUsage();
await Promise.all([import('vega'), import('vega-lite')]);
process.stdout.write(`import vega + vega-lite: ${(performance.now() - t).toFixed(0)} ms wall, ${cpuMs(cpu).toFixed(0)} ms CPU\n`);
process.stdout.write('report                         variants  seeds  cold ms (CPU)  warm ms (CPU), median  index.html KB  specs KB\n');
for (const dir of dirs) {
  const { report } = readReport(dir);
  const times: number[] = [];
  const cpus: number[] = [];
  let sizes = { html: 0, specs: 0 };
  for (let i = 0; i <= reps; i++) {
    t = performance.now();
    cpu = process.cpuUsage();
    const { files } = await buildHtmlReport(report, { missing: '' });
    times.push(performance.now() - t);
    cpus.push(cpuMs(cpu));
    sizes = {
      html: files.filter((f) => f.path === 'index.html').reduce((a, f) => a + Buffer.byteLength(f.content), 0),
      specs: files.filter((f) => f.path !== 'index.html').reduce((a, f) => a + Buffer.byteLength(f.content), 0),
    };
  }
  const median = (xs: number[]): number => xs.slice(1).sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
  const cell = (wall: number, c: number): string => `${wall.toFixed(0)} (${c.toFixed(0)})`;
  process.stdout.write(
    `${report.scenario.name.padEnd(30)} ${String(report.variants.length).padStart(8)} ${String(report.seeds.length).padStart(6)} ${cell(times[0], cpus[0]).padStart(14)} ${cell(median(times), median(cpus)).padStart(22)} ${(sizes.html / 1024).toFixed(0).padStart(14)} ${(sizes.specs / 1024).toFixed(0).padStart(9)}\n`,
  );
}
