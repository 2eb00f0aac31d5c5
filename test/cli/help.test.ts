/**
 * Help text layout (src/cli/help.ts) and the help of every command: prose re-flowed to
 * 80 columns, examples kept as written, and no line of any `--help` (or of `policies`)
 * wider than 80 columns, so nothing wraps badly in a terminal or a CI log.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HELP_WIDTH, helpText, indented } from '../../src/cli/help.js';
import { cli } from './_run.js';

const COMMANDS = ['run', 'validate', 'compare', 'report', 'merge', 'live', 'fidelity', 'policies', 'schema', 'proxy'];
const width = (line: string): number => [...line].length;

describe('helpText', () => {
  it('re-flows a paragraph to the width and keeps indented lines and blank lines as written', () => {
    const text = 'one two three four five six\nseven eight\n\n  meshsim run a-very-long-example-line-kept-as-is\nnine ten';
    expect(helpText(text, 12)).toBe('one two\nthree four\nfive six\nseven eight\n\n  meshsim run a-very-long-example-line-kept-as-is\nnine ten');
  });

  it('keeps a word longer than the width whole, on its own line', () => {
    expect(helpText('a https://example.com/a/very/long/url b', 10)).toBe('a\nhttps://example.com/a/very/long/url\nb');
  });

  it('indented() indents every non-empty line and still fits the width', () => {
    const out = indented('alpha beta gamma delta epsilon zeta eta theta', 6, 20);
    for (const line of out.split('\n')) {
      expect(line.startsWith('      ')).toBe(true);
      expect(width(line)).toBeLessThanOrEqual(20);
    }
  });
});

describe('every help fits 80 columns', () => {
  it.each(['', ...COMMANDS])('meshsim %s --help', async (command) => {
    const r = await cli(...(command === '' ? [] : [command]), '--help');
    expect(r.code).toBe(0);
    const wide = (r.stdout + r.stderr).split('\n').filter((l) => width(l) > HELP_WIDTH);
    expect(wide).toEqual([]);
  });

  it('meshsim --help shows how to get started, with files that exist, and every exit code', async () => {
    const text = (await cli('--help')).stdout;
    const start = text.slice(text.indexOf('Getting started:'));
    expect(start).toContain('meshsim run scenarios/quickstart.yaml');
    expect(existsSync(resolve(__dirname, '../../scenarios/quickstart.yaml'))).toBe(true);
    for (const command of ['run', 'validate', 'policies', 'compare']) expect(start).toContain(`meshsim ${command} `);
    for (const code of [0, 1, 2, 70, 130]) expect(start).toMatch(new RegExp(`\\b${code} `));
  });

  it('every command but help has examples and its exit codes', async () => {
    for (const command of COMMANDS) {
      const text = (await cli(command, '--help')).stdout;
      expect(text, command).toContain('Examples:');
      expect(text, command).toContain('Exit codes:');
    }
  });
});

const ROOT = resolve(__dirname, '../..');

/** The words of a shell command line: single quotes group, a trailing `# comment` is dropped. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.replace(/\s+#\s.*$/, '').matchAll(/'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2]);
  return words;
}

/** `meshsim run|validate FILE … --sweep …` commands in `text`, `\`-continued lines joined. */
function sweepCommands(text: string): string[][] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((line) => shellWords(line.trim()))
    .filter((w) => w[0] === 'meshsim' && (w[1] === 'run' || w[1] === 'validate') && w.includes('--sweep'));
}

describe('--sweep examples work as written', () => {
  // A reviewer copying `max=0..3` from the option's help got "unknown key": PATH is the
  // whole dotted path, in every example.
  it.each(['run', 'validate'])("every PATH=VALUES in `meshsim %s --help`'s --sweep option is accepted", async (command) => {
    const help = (await cli(command, '--help')).stdout;
    const option = help.slice(help.indexOf('  --sweep <path=values>'));
    const description = option
      .slice(0, option.indexOf('\n  --', 1))
      .replace('--sweep <path=values>', '')
      .split('\n')
      .map((l) => l.trim())
      .join(' ');
    const values = [
      ...[...description.matchAll(/'([A-Za-z][\w.]*=[^']*)'/g)].map((m) => m[1]),
      ...[...description.replace(/'[^']*'/g, ' ').matchAll(/(?:^|\s)([A-Za-z][\w.]*=[^\s']*?)[,;]?(?=\s|$)/g)].map((m) => m[1]),
    ];
    expect(values.length).toBeGreaterThanOrEqual(3);
    for (const value of values) {
      const r = await cli('validate', join(ROOT, 'scenarios/sweep-retries.yaml'), '--sweep', value);
      expect(r.stderr, value).toBe('');
      expect(r.code, value).toBe(0);
    }
  });

  it('every example command with --sweep in run and validate --help and README.md validates', async () => {
    const texts = [(await cli('run', '--help')).stdout, (await cli('validate', '--help')).stdout, readFileSync(join(ROOT, 'README.md'), 'utf8')];
    const commands = texts.flatMap(sweepCommands);
    expect(commands.length).toBeGreaterThanOrEqual(7);
    for (const [, , file, ...options] of commands) {
      const r = await cli('validate', resolve(ROOT, file), ...options);
      expect(r.code, [file, ...options].join(' ')).toBe(0);
    }
  });
});

describe('--plugin in the help', () => {
  it('every command taking --plugin lists exit code 2, which a missing plugin gets', async () => {
    const missing = join(ROOT, 'no-such-plugin.mjs');
    for (const command of COMMANDS) {
      const text = (await cli(command, '--help')).stdout;
      if (!text.includes('--plugin <file>')) continue;
      const codes = text.slice(text.indexOf('Exit codes:'));
      expect(codes, command).toMatch(/^ {2}2 {3}/m);
    }
    const r = await cli('schema', '--plugin', missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`meshsim: plugin ${missing}: no such file\n`);
    expect((await cli('schema', '--help')).stdout).toMatch(/^ {2}2 {3}a missing or broken plugin/m);
  });

  it("proxy's --plugin names the config's mesh.balancer.kind, not scenario files", async () => {
    const text = (await cli('proxy', '--help')).stdout;
    const option = text.slice(text.indexOf('--plugin <file>'), text.indexOf('-h, --help')).replace(/\s+/g, ' ');
    expect(option).toContain("the config's mesh.balancer.kind can then name their kinds");
    expect(option).not.toContain('scenario');
  });
});
