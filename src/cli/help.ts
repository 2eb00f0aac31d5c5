/**
 * Help text layout. Commander wraps option descriptions to the terminal width (80 columns
 * when not a terminal) but prints the text added after them as written; this re-flows that
 * text's prose the same way, so every line of every `--help` fits 80 columns (a test
 * checks it).
 */

/** Columns every help line fits in. */
export const HELP_WIDTH = 80;

/**
 * Re-flows each paragraph (a run of non-blank lines that do not start with a space) to
 * `width` columns; indented lines (examples, exit codes) and blank lines are kept as
 * written. A word longer than the width stays whole on its own line.
 */
export function helpText(text: string, width = HELP_WIDTH): string {
  const out: string[] = [];
  let paragraph: string[] = [];
  const flush = (): void => {
    if (paragraph.length === 0) return;
    let line = '';
    for (const word of paragraph.join(' ').split(/\s+/).filter((w) => w.length > 0)) {
      if (line.length > 0 && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else {
        line = line.length > 0 ? `${line} ${word}` : word;
      }
    }
    out.push(line);
    paragraph = [];
  };
  for (const line of text.split('\n')) {
    if (line.trim().length === 0 || /^\s/.test(line)) {
      flush();
      out.push(line);
    } else {
      paragraph.push(line);
    }
  }
  flush();
  return out.join('\n');
}

/** `text` wrapped to `width` columns, every line indented by `indent` spaces. */
export function indented(text: string, indent: number, width = HELP_WIDTH): string {
  const pad = ' '.repeat(indent);
  return helpText(text, width - indent)
    .split('\n')
    .map((line) => (line.length > 0 ? pad + line : line))
    .join('\n');
}
