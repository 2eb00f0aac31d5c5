/**
 * Vega-Lite → SVG in Node, with no browser and no canvas: compile to Vega, run the dataflow
 * headless (`renderer: 'none'`) and serialise the scenegraph with Vega's SVG string
 * renderer. Text widths are estimated (no font metrics), so the output depends only on the
 * spec: same spec → same SVG bytes. Warnings of Vega-Lite and Vega are collected, not
 * printed.
 */
import { logger, parse, View, Warn } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface RenderedChart {
  readonly svg: string;
  /** What Vega-Lite or Vega warned about (empty for a sound spec). */
  readonly warnings: readonly string[];
}

/** Renders one Vega-Lite spec to an SVG document string. */
export async function renderSvg(spec: TopLevelSpec): Promise<RenderedChart> {
  const warnings: string[] = [];
  const collect = logger(Warn, undefined, (_method, _level, args) => {
    warnings.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
  });
  const view = new View(parse(compile(spec, { logger: collect }).spec), { renderer: 'none', logger: collect });
  try {
    return { svg: await view.toSVG(), warnings };
  } finally {
    view.finalize();
  }
}
