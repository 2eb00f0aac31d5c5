/**
 * Vega-Lite → SVG in Node, with no browser and no canvas: compile to Vega, run the dataflow
 * headless (`renderer: 'none'`) and serialise the scenegraph with Vega's SVG string
 * renderer. Text widths are estimated (no font metrics), so the output depends only on the
 * spec — except element ids (clip paths, gradients), which Vega numbers from process-wide
 * counters: they are renamed `<prefix>-1`, `<prefix>-2`… in document order, which makes the
 * bytes depend on the spec alone and keeps the ids of several SVGs on one page distinct.
 * Warnings of Vega-Lite and Vega are collected, not printed.
 */
import type { TopLevelSpec } from 'vega-lite';

/** Vega and Vega-Lite, loaded on first use (~0.5 s): commands that draw no chart never pay for them. */
let modules: Promise<[typeof import('vega'), typeof import('vega-lite')]> | undefined;
const load = (): Promise<[typeof import('vega'), typeof import('vega-lite')]> => (modules ??= Promise.all([import('vega'), import('vega-lite')]));

export interface RenderedChart {
  readonly svg: string;
  /** What Vega-Lite or Vega warned about (empty for a sound spec). */
  readonly warnings: readonly string[];
}

/**
 * Renames every `id` of an SVG document to `<prefix>-<n>` (n in order of definition), with
 * the `url(#…)` and `href="#…"` references to them.
 */
export function renumberIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) if (!ids.has(m[1])) ids.set(m[1], `${prefix}-${ids.size + 1}`);
  if (ids.size === 0) return svg;
  return svg.replace(/(\sid=")([^"]+)(")|(url\(#)([^)]+)(\))|(href="#)([^"]+)(")/g, (whole, ...g: (string | undefined)[]) => {
    const [a, id, b] = g[0] !== undefined ? [g[0], g[1], g[2]] : g[3] !== undefined ? [g[3], g[4], g[5]] : [g[6], g[7], g[8]];
    const renamed = id === undefined ? undefined : ids.get(id);
    return renamed === undefined ? whole : `${a}${renamed}${b}`;
  });
}

/** Renders one Vega-Lite spec to an SVG document string; its element ids start with `idPrefix`. */
export async function renderSvg(spec: TopLevelSpec, idPrefix = 'chart'): Promise<RenderedChart> {
  const [{ logger, parse, View, Warn }, { compile }] = await load();
  const warnings: string[] = [];
  const collect = logger(Warn, undefined, (_method, _level, args) => {
    warnings.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  });
  const view = new View(parse(compile(spec, { logger: collect }).spec), { renderer: 'none', logger: collect });
  try {
    return { svg: renumberIds(await view.toSVG(), idPrefix), warnings };
  } finally {
    view.finalize();
  }
}
